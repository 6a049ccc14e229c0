import { UserError } from '../../src/errors.js'

/** The UserError that `fn` throws; any other error passes through, and no error fails the test. */
export function userError(fn: () => unknown): UserError {
  try {
    fn()
  } catch (error) {
    if (error instanceof UserError) return error
    throw error
  }
  throw new Error('expected a UserError')
}

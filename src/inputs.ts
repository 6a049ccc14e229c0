// The inputs are read in the inputs/ room; main.ts and the tests import them from here, where they always stood.
export { parseInputs } from './inputs/index.js'
export { parseVars } from './inputs/key-values.js'

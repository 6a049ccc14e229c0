// The inputs are read in the inputs/ room; main.ts and the tests import them from here, where they always stood.
export { parseInputs, parseVars } from './inputs/index.js'

import { parse as parseJson, printParseErrorCode, type ParseError } from 'jsonc-parser'
import { LineCounter, parseAllDocuments, isNode, type Document } from 'yaml'
import { ProblemList, UserError, type SourceLocation } from '../errors.js'
import { withoutByteOrderMark } from './template-file.js'

/** One parsed YAML or JSON document that still knows where each of its values stands in the file. */
export interface SourceDocument {
  file: string
  /** Zero-based position of the document in its file (multi-document YAML). */
  index: number
  value: unknown
  /** Where the value at `path` stands, or the document's start when the path is not there. */
  locate(path: ReadonlyArray<string | number>): SourceLocation
}

/**
 * Parses YAML (and so JSON, which is YAML 1.2) into documents with source positions. Syntax errors of
 * every document are reported together, each with file:line:col.
 */
export function parseDocuments(source: string, file: string): SourceDocument[] {
  const text = withoutByteOrderMark(source)
  if (/\.json$/i.test(file)) checkJson(text, file)
  const lineCounter = new LineCounter()
  const documents = parseAllDocuments(text, { lineCounter, prettyErrors: false, uniqueKeys: true, merge: true })
  const list = Array.isArray(documents) ? documents : [documents]
  const problems = new ProblemList()
  for (const document of list) {
    for (const error of document.errors) {
      const position = lineCounter.linePos(error.pos[0])
      problems.add({ location: { file, line: position.line, column: position.col }, message: syntaxMessage(error.message) })
    }
  }
  problems.throwIfAny()
  return list
    .filter(document => document.contents !== null)
    .map((document, index) => toSourceDocument(document, file, index, lineCounter))
}

function toSourceDocument(document: Document, file: string, index: number, lineCounter: LineCounter): SourceDocument {
  const start = document.contents && isNode(document.contents) && document.contents.range ? document.contents.range[0] : 0
  return {
    file,
    index,
    value: document.toJS({ maxAliasCount: 100 }),
    locate(path) {
      let node: unknown = document.getIn(path, true)
      // Walk back up to the nearest ancestor that exists, so a missing key points at its parent.
      for (let depth = path.length - 1; !isNode(node) && depth >= 0; depth--) node = document.getIn(path.slice(0, depth), true)
      const offset = isNode(node) && node.range ? node.range[0] : start
      const position = lineCounter.linePos(offset)
      return { file, line: position.line, column: position.col }
    }
  }
}

// The yaml library appends a code excerpt after the first line; the file:line:col we print says where.
function syntaxMessage(message: string): string {
  return message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '')
}

/** YAML forgives what JSON does not (`"cpu": ,`, trailing commas): a .json file is held to JSON. */
function checkJson(text: string, file: string): void {
  const errors: ParseError[] = []
  parseJson(text, errors, { allowTrailingComma: false, disallowComments: true })
  if (errors.length === 0) return
  const lineCounter = new LineCounter()
  text.split('\n').reduce((offset, line) => (lineCounter.addNewLine(offset), offset + line.length + 1), 0)
  throw new UserError(
    errors.map(error => {
      const position = lineCounter.linePos(error.offset)
      return { input: 'template', location: { file, line: position.line, column: position.col }, message: `invalid JSON: ${jsonErrorText(error.error)}` }
    })
  )
}

function jsonErrorText(code: number): string {
  // printParseErrorCode gives names like "ValueExpected": make them words.
  return printParseErrorCode(code).replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase()
}

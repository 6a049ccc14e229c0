import { UserError } from '../errors.js'
import { parseDocuments, type SourceDocument } from './source.js'

/** The file a rendered document came from, and the output line that is its line 1. */
export interface Origin {
  file: string
  firstLine: number
}

/**
 * What helm or kustomize printed, parsed like a manifest file. The documents are first placed in the
 * output itself, labelled with the command that printed it (`kustomize build overlays/prod:23`), which a
 * user can run to see the same lines; `origin` may then move a document to the file it came from.
 */
export function parseRenderedOutput(text: string, command: string, origin: (document: SourceDocument, firstLine: number, lines: string[]) => Origin | undefined): SourceDocument[] {
  let documents: SourceDocument[]
  try {
    documents = parseDocuments(text, command)
  } catch (error) {
    // The tools check their own output: this is a tool's fault, not the user's file.
    if (error instanceof UserError) throw new UserError(error.problems.map(p => ({ ...p, input: 'template', message: `${command} printed invalid YAML: ${p.message}` })))
    throw error
  }
  const lines = text.split('\n')
  return documents.map(document => {
    const firstLine = firstLineOf(document, lines)
    const from = origin(document, firstLine, lines)
    return from ? rebase(document, from.file, from.firstLine) : document
  })
}

/** The document's first line in the output (1-based): the line after the `---` before its content. */
function firstLineOf(document: SourceDocument, lines: string[]): number {
  let line = document.locate([]).line
  while (line > 1 && !/^---\s*$/.test(lines[line - 2])) line--
  return line
}

/** The document as if `file` held it from `firstLine` on: line 1 of the document is line 1 there. */
function rebase(document: SourceDocument, file: string, firstLine: number): SourceDocument {
  return {
    ...document,
    file,
    locate(path) {
      const at = document.locate(path)
      return { ...at, file, line: at.line - firstLine + 1 }
    }
  }
}

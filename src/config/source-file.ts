import { LineCounter } from 'yaml';

/** A pipeline file's text with a line index, so offsets turn into line:column only when printing. */
export class SourceFile {
  readonly lines: LineCounter;

  constructor(
    readonly path: string,
    readonly text: string,
    lines?: LineCounter,
  ) {
    this.lines = lines ?? SourceFile.indexLines(text);
  }

  private static indexLines(text: string): LineCounter {
    const counter = new LineCounter();
    counter.addNewLine(0);
    for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) counter.addNewLine(i + 1);
    return counter;
  }

  /** 1-based line and column of a character offset. */
  position(offset: number): { line: number; col: number } {
    return this.lines.linePos(Math.max(0, Math.min(offset, this.text.length)));
  }

  /** The text of a 1-based line, without its newline. */
  lineText(line: number): string {
    const starts = this.lines.lineStarts;
    const start = starts[line - 1] ?? this.text.length;
    const end = line < starts.length ? starts[line] - 1 : this.text.length;
    return this.text.slice(start, end).replace(/\r$/, '');
  }
}

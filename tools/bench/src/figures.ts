/**
 * What a benchmark reports: figures, each with its unit and, when the issue
 * sets one, its target. A figure is printed with whether this run met its
 * target; a missed target is news for the reader, never a failed run.
 */

export type Unit =
  | "signals/s"
  | "share"
  | "ns/signal"
  | "ms"
  | "us"
  | "actions/s"
  | "bytes"
  | "bytes/s"
  | "bytes/instance"
  | "bytes/guest"
  | "bytes/host"
  | "times"
  | "percent-cpu";

export interface Target {
  readonly cmp: ">=" | "<=";
  readonly value: number;
}

export interface Figure {
  /** The benchmark's name, as given on the command line. */
  readonly bench: string;
  readonly name: string;
  readonly value: number;
  readonly unit: Unit;
  readonly target?: Target;
  /** How the figure was taken, when the name alone does not say. */
  readonly note?: string;
}

export type Verdict = "met" | "not met" | "";

export function verdict(f: Figure): Verdict {
  if (f.target === undefined) return "";
  if (!Number.isFinite(f.value)) return "not met";
  return (f.target.cmp === ">=" ? f.value >= f.target.value : f.value <= f.target.value) ? "met" : "not met";
}

const whole = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

export function format(value: number, unit: Unit): string {
  if (!Number.isFinite(value)) return "n/a";
  switch (unit) {
    case "signals/s":
      return `${whole.format(value)} /s`;
    case "share":
      return `${(value * 100).toFixed(1)} %`;
    case "ns/signal":
      return `${value.toFixed(value < 100 ? 1 : 0)} ns/signal`;
    case "ms":
      return `${value.toFixed(value < 10 ? 2 : 1)} ms`;
    case "us":
      return `${value.toFixed(value < 10 ? 2 : value < 100 ? 1 : 0)} µs`;
    case "actions/s":
      return `${whole.format(value)} actions/s`;
    case "bytes":
      return `${whole.format(value)} B`;
    case "bytes/s":
      return `${whole.format(value)} B/s`;
    case "bytes/instance":
      return `${whole.format(value)} B/instance`;
    case "bytes/guest":
      return `${whole.format(value)} B/guest`;
    case "bytes/host":
      return `${whole.format(value)} B/host`;
    case "times":
      return `${value.toFixed(2)}x`;
    case "percent-cpu":
      return `${value.toFixed(value < 10 ? 1 : 0)} % of a core`;
  }
}

export function formatTarget(f: Figure): string {
  return f.target === undefined ? "" : `${f.target.cmp} ${format(f.target.value, f.unit)}`;
}

/** One line for a figure as it is measured. */
export function line(f: Figure): string {
  const v = verdict(f);
  const target = f.target === undefined ? "" : `  (target ${formatTarget(f)}: ${v})`;
  const note = f.note === undefined ? "" : `  [${f.note}]`;
  return `  ${f.name}: ${format(f.value, f.unit)}${target}${note}`;
}

/** The summary: one row per figure, columns padded to fit. */
export function table(figures: readonly Figure[]): string {
  const rows = [
    ["bench", "figure", "value", "target", "this run"],
    ...figures.map((f) => [f.bench, f.name, format(f.value, f.unit), formatTarget(f), verdict(f)]),
  ];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  const render = (r: readonly string[]) =>
    r
      .map((cell, c) => (c === 2 ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!)))
      .join("  ")
      .trimEnd();
  const rule = widths.map((w) => "-".repeat(w)).join("  ");
  return [render(rows[0]!), rule, ...rows.slice(1).map(render)].join("\n");
}

/** Collects a benchmark's figures and prints each as it comes. */
export class Report {
  readonly figures: Figure[] = [];

  constructor(readonly bench: string) {}

  add(name: string, value: number, unit: Unit, extra: { target?: Target; note?: string } = {}): Figure {
    const f: Figure = { bench: this.bench, name, value, unit, ...extra };
    this.figures.push(f);
    console.log(line(f));
    return f;
  }

  /** Context that is not a figure: setup, what is being measured. */
  say(text: string): void {
    console.log(`  ${text}`);
  }
}

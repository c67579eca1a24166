/**
 * Properties checked on every state of every executed path that do not come from the machine
 * itself. A *hard* property failing fails the path; a *finding* is a property the machine does not
 * keep today: it is recorded with the shortest path that shows it and reported (the machines are
 * read-only for this suite), and the suite pins the set of findings so a change is noticed.
 */
export interface Finding {
  id: string;
  what: string;
  /** The shortest path (labels) that shows it. */
  path: string[];
  state: string;
}

export class Findings {
  private readonly byId = new Map<string, Finding>();

  record(id: string, what: string, path: readonly string[], state: string): void {
    const known = this.byId.get(id);
    if (!known || known.path.length > path.length) this.byId.set(id, { id, what, path: [...path], state });
  }

  all(): Finding[] {
    return [...this.byId.values()].sort((a, b) => a.id.localeCompare(b.id));
  }

  ids(): string[] {
    return this.all().map((f) => f.id);
  }

  format(): string {
    return this.all()
      .map((f) => `- ${f.id}: ${f.what}\n    reached ${f.state} by: ${f.path.join(' → ') || 'init'}`)
      .join('\n');
  }
}

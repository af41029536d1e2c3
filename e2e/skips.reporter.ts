// Names every skipped test with its reason (the `list` reporter counts skips but does not say
// why), one line each, `SKIPPED <title>: <reason>`, which scripts/test lists apart from the passes.
import type { Reporter, TestCase, TestResult } from '@playwright/test/reporter';

export default class SkipsReporter implements Reporter {
  private skipped: string[] = [];

  onTestEnd(test: TestCase, result: TestResult) {
    if (result.status !== 'skipped') return;
    const reason = test.annotations.find((a) => a.type === 'skip' || a.type === 'fixme')?.description ?? 'no reason given';
    this.skipped.push(`SKIPPED ${test.titlePath().slice(1).join(' › ')}: ${reason.replace(/^SKIPPED:?\s*/, '')}`);
  }

  onEnd() {
    for (const line of this.skipped) console.log(line);
  }

  printsToStdio() {
    return true;
  }
}

/**
 * Neumaier's compensated running sum: the rounding error of each addition is carried, so the total is
 * within about one rounding of the exact sum whatever the magnitudes and order of the terms (plain
 * summation loses digits when large and small terms mix, e.g. the probabilities next to a dominant one).
 */
export class CompensatedSum {
  private sum = 0;
  private comp = 0;

  add(x: number): void {
    const t = this.sum + x;
    this.comp += Math.abs(this.sum) >= Math.abs(x) ? this.sum - t + x : x - t + this.sum;
    this.sum = t;
  }

  get value(): number {
    return this.sum + this.comp;
  }
}

/** @file Seeded uniform and Gaussian draws for the teacher-feature tests. */
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';

/** A seeded source of uniform [0, 1) and standard normal (Box–Muller) numbers. */
export function seeded(seed: number): { uniform: () => number; normal: () => number; normals: (n: number) => Float64Array } {
  const rng = xoroshiro128plus(seed);
  const uniform = (): number => uniformFloat64(rng);
  const normal = (): number => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
  return { uniform, normal, normals: (n) => Float64Array.from({ length: n }, normal) };
}

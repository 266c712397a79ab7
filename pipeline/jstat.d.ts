/** @file Types for the parts of jStat (CommonJS, untyped) that the statistics use. */
declare module 'jstat' {
  interface JStat {
    studentt: { cdf(x: number, dof: number): number; inv(p: number, dof: number): number };
    normal: { cdf(x: number, mean: number, std: number): number };
  }
  const jStat: JStat;
  export default jStat;
}

/** Time is injected everywhere so that tests and the model can control it; production uses the wall clock. */
export type Clock = () => Date;
export const systemClock: Clock = () => new Date();

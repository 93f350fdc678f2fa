export type { Clock, Disposer } from "./clock.js";

export type { Clock, Disposer } from "./ports/clock.js";
export type { Driver, DriverEvent, LaunchSpec, ObservedInstance, StopOptions } from "./ports/driver.js";

export type { Clock, Disposer } from "@froctal/reactive";
export type { Driver, DriverEvent, LaunchSpec, ObservedInstance, StopOptions } from "./ports/driver.js";

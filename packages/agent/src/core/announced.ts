/**
 * What the guest has told the manager about itself that is still true: its
 * lifecycle phase, its devices, and the latest application event of each
 * name (the "facts" policies read). Events are acknowledged and then
 * forgotten, so a manager that restarted without them (it answers a known
 * stream with acked_seq 0) would never hear them again; the agent re-announces
 * this state instead. Bounded by the number of devices and event names the
 * guest uses, not by how many events it sent.
 */
import { DeviceChange, LifecyclePhase } from "@froctal/protocol";
import type { WireEvent } from "./signals.js";

export class AnnouncedState {
  private phase: WireEvent | undefined;
  private readonly devices = new Map<string, WireEvent>();
  private readonly facts = new Map<string, WireEvent>();

  /** Notes an event the guest emitted. */
  record(event: WireEvent): void {
    if (event.lifecycle && !event.lifecycle.task && event.lifecycle.phase !== LifecyclePhase.LIFECYCLE_PHASE_EXITED) {
      this.phase = event;
    } else if (event.device) {
      if (event.device.change === DeviceChange.DEVICE_CHANGE_REMOVED) this.devices.delete(event.device.deviceId!);
      else this.devices.set(event.device.deviceId!, event);
    } else if (event.app) {
      this.facts.set(event.app.name!, event);
    }
  }

  /** The state as fresh events, timestamped `atMs`: phase first, then devices (as added), then facts. */
  snapshot(atMs: number): WireEvent[] {
    const out: WireEvent[] = [];
    if (this.phase) out.push({ ...this.phase, atMs });
    for (const e of this.devices.values()) {
      out.push({ ...e, atMs, device: { ...e.device, change: DeviceChange.DEVICE_CHANGE_ADDED } });
    }
    for (const e of this.facts.values()) out.push({ ...e, atMs });
    return out;
  }
}

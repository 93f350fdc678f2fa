/**
 * How to boot an image with QEMU: direct kernel boot, the serial console on
 * stdio, and one virtio-serial port whose host end is a unix socket QEMU
 * listens on. That socket is the instance's own channel to the manager
 * (identity by construction: serveStream(socket, { instanceId })).
 */

export interface BootOptions {
  readonly kernel: string;
  readonly initrd: string;
  readonly instanceId: string;
  /** The host end of the virtio-serial port: QEMU listens here. */
  readonly socketPath: string;
  /** The port's name, as the guest's /init looks for it. Default froctal.0. */
  readonly portName?: string;
  /** Default 512. */
  readonly memoryMb?: number;
  /** "tcg" (software, works anywhere) or "kvm". Default tcg. */
  readonly accel?: "tcg" | "kvm";
  /** More kernel command line, e.g. "froctal.shell=1" or "quiet". */
  readonly append?: string;
}

export const DEFAULT_PORT = "froctal.0";

/** Arguments for qemu-system-x86_64. The guest has no network device: -nodefaults. */
export function qemuArgs(options: BootOptions): string[] {
  const port = options.portName ?? DEFAULT_PORT;
  if (/[\s,]/.test(options.socketPath) || /[\s,]/.test(port) || /\s/.test(options.instanceId)) {
    throw new Error("the socket path, port name and instance id cannot hold spaces or commas");
  }
  const append = ["console=ttyS0", `froctal.instance=${options.instanceId}`, "panic=-1", options.append]
    .filter(Boolean)
    .join(" ");
  return [
    ...["-machine", "q35", "-accel", options.accel ?? "tcg", "-m", String(options.memoryMb ?? 512)],
    ...["-nodefaults", "-no-user-config", "-display", "none", "-serial", "stdio", "-no-reboot"],
    ...["-kernel", options.kernel, "-initrd", options.initrd, "-append", append],
    ...["-device", "virtio-serial-pci,id=vser0"],
    ...["-chardev", `socket,id=ch0,path=${options.socketPath},server=on,wait=off`],
    ...["-device", `virtserialport,bus=vser0.0,chardev=ch0,name=${port}`],
  ];
}

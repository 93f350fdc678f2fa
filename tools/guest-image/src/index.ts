/**
 * @froctal/guest-image: builds a bootable guest (Debian cloud kernel + an
 * initramfs holding busybox, node and one bundled froctal app).
 *
 *   image.ts        buildImage: gather, lay out, cache, write vmlinuz / initrd.img / manifest.json
 *   debian.ts       apt-get download and dpkg-deb -x into the cache
 *   kernel.ts       vmlinuz and the virtio modules, with modinfo.ts (ELF .modinfo, load order)
 *   runtime.ts      the host's node binary and the libraries ldd names
 *   bundle.ts       the app and its imports as one ES module (esbuild)
 *   init-script.ts  the guest's /init
 *   cpio.ts         the newc archive, deterministic
 *   qemu.ts         how to boot it
 *   build.ts        the command line
 */
export { type BuildOptions, buildImage, DEFAULT_CACHE_DIR, type GuestImage, type Manifest } from "./image.js";
export { DEFAULT_MODULES } from "./kernel.js";
export { type BootOptions, DEFAULT_PORT, qemuArgs } from "./qemu.js";

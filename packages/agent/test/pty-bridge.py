# Test helper: makes a real character device (a pseudo-terminal in raw mode,
# standing in for a virtio-serial port) and bridges it to a unix socket, the
# way a hypervisor bridges a guest's port to the host. Prints the device path.
import os, select, socket, sys, tty

master, slave = os.openpty()
tty.setraw(slave)
manager = socket.socket(socket.AF_UNIX)
manager.connect(sys.argv[1])
print(os.ttyname(slave), flush=True)
while True:
    ready, _, _ = select.select([master, manager], [], [])
    if master in ready:
        data = os.read(master, 65536)
        if not data:
            break
        manager.sendall(data)
    if manager in ready:
        data = manager.recv(65536)
        if not data:
            break
        os.write(master, data)

import os, sys, mmap
path = sys.argv[1]
for mode in ('pwrite', 'mmap'):
    try: os.unlink(path)
    except FileNotFoundError: pass
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    os.ftruncate(fd, 16 << 20)
    if mode == 'pwrite':
        os.pwrite(fd, b'x' * 65536, 4 << 20)
    else:
        m = mmap.mmap(fd, 16 << 20); m[4 << 20:(4 << 20) + 65536] = b'x' * 65536
    res = []
    for w, n in ((os.SEEK_DATA, 'DATA'), (os.SEEK_HOLE, 'HOLE')):
        try: res.append(f"{n}(0)={os.lseek(fd, 0, w)}")
        except OSError as e: res.append(f"{n}(0)={e.strerror}")
    # and past the end the daemon knows (grown by a write only)
    os.pwrite(fd, b'y' * 4096, 20 << 20)
    try: res.append(f"DATA(20M)={os.lseek(fd, 20 << 20, os.SEEK_DATA)}")
    except OSError as e: res.append(f"DATA(20M)={e.strerror}")
    print(f"{path} {mode}: " + " ".join(res))
    if mode == 'mmap': m.close()
    os.close(fd)
    os.unlink(path)

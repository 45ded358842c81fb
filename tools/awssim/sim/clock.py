"""Emulated time: a live time scale (real seconds per AWS second) and scaled sleeps.

time_scale 0 means "as fast as the real work allows": every modelled AWS
duration is skipped. time_scale 1 is real time; 0.01 makes a 300 s AWS
operation take 3 s. The scale can change while operations run: each waiting
operation re-reads it every tick.
"""
import threading
import time


class ShuttingDown(Exception):
    pass


class Clock:
    def __init__(self, scale=0.0):
        self.scale = float(scale)
        self.stop_event = threading.Event()
        self._lock = threading.Lock()
        self.aws_offset = 0.0        # AWS seconds added by POST /advance
        self._aws_elapsed = 0.0      # AWS seconds elapsed while scale > 0
        self._last = time.monotonic()

    def set_scale(self, s):
        self._tick()
        self.scale = max(0.0, float(s))

    def _tick(self):
        with self._lock:
            now = time.monotonic()
            dt = now - self._last
            self._last = now
            if self.scale > 0:
                self._aws_elapsed += dt / self.scale

    def aws_now(self):
        """Monotonic emulated AWS seconds (used for 'stopped for 7 days')."""
        self._tick()
        return self._aws_elapsed + self.aws_offset

    def advance(self, seconds):
        with self._lock:
            self.aws_offset += float(seconds)

    def sleep(self, aws_seconds, progress=None):
        """Wait `aws_seconds` of emulated time; progress(fraction) is called as it goes."""
        total = float(aws_seconds)
        done = 0.0
        start_adv = self.aws_offset
        while done < total:
            if self.stop_event.is_set():
                raise ShuttingDown()
            sc = self.scale
            if sc <= 0:
                break
            step = min(0.25, (total - done) * sc)
            if self.stop_event.wait(step):
                raise ShuttingDown()
            done += step / sc
            done += self.aws_offset - start_adv
            start_adv = self.aws_offset
            if progress:
                progress(min(1.0, done / total) if total else 1.0)
        if progress:
            progress(1.0)

    def real_wait(self, seconds):
        if self.stop_event.wait(seconds):
            raise ShuttingDown()

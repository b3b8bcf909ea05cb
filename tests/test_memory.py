"""toolkit.memory: what a big command no longer needs goes back to the system where glibc can
give it back, and nothing happens elsewhere."""

from toolkit import memory


def test_give_back_runs_here_and_is_nothing_elsewhere(monkeypatch):
    memory.give_back()  # glibc here (or nothing): never an error
    for platform in ("win32", "darwin"):
        monkeypatch.setattr(memory.sys, "platform", platform)
        assert memory._malloc_trim() is None
        memory.give_back()


def test_without_malloc_trim_nothing_happens(monkeypatch):
    class NoTrim:
        def __init__(self, name):
            pass

    monkeypatch.setattr(memory.sys, "platform", "linux")
    monkeypatch.setattr(memory.ctypes, "CDLL", NoTrim)  # musl: no malloc_trim
    assert memory._malloc_trim() is None
    memory.give_back()

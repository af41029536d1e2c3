"""The provenance block every report opens with: the command that regenerates it, the commit, the
date, the machine (CPU model and threads, and where it matters the browser and the GPU adapter)
and the wall time. Used by the scripts that write reports/ (scripts/reports.py runs them)."""
import os, platform, subprocess, sys, time

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
STARTED = time.time()


def _git(*args):
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def commit():
    """The commit, with `+changes` when tracked files differ from it (the figures are then of those)."""
    head = _git("rev-parse", "--short=10", "HEAD") or "unknown"
    return head + ("+changes" if _git("status", "--porcelain", "--untracked-files=no") else "")


def cpu():
    """The CPU model and the threads this process may use."""
    model = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{model}, {threads} thread{'s' if threads != 1 else ''}"


def wall(seconds):
    minutes, s = divmod(round(seconds), 60)
    hours, m = divmod(minutes, 60)
    return f"{hours} h {m} min" if hours else f"{m} min {s} s" if m else f"{s} s"


def command():
    """How this report is regenerated: the npm command where scripts/reports.py ran it, else argv."""
    return os.environ.get("MULTIGRID_REPORT_COMMAND") or " ".join([os.path.relpath(sys.argv[0], ROOT), *sys.argv[1:]])


def block(browser=None, gpu=None, extra=None):
    """Markdown lines: the provenance of a report written now."""
    machine = f"{cpu()}, {platform.system()} {platform.machine()}"
    lines = [f"> Regenerate: `{command()}`  ",
             f"> Commit {commit()}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, wall time "
             f"{wall(time.time() - STARTED)}  ",
             f"> Machine: {machine}" + (f"; browser: {browser}" if browser else "") + (f"; GPU: {gpu}" if gpu else "") +
             ("  " if extra else "")]
    if extra:
        lines.append(f"> {extra}")
    return lines + [""]

"""load: N simultaneous chat users through gradio_client, about a third of the messages red
flags: errors (must be 0), latency, and that every red flag shows its escalation notice."""

from __future__ import annotations

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from harness import TRIAGE_CASES, Row, cpu_s, dist_ms, eval_questions, now, percentile, read_jsonl, row, rss_mb
from sections.app import App, content, visible_text


def load_messages(n_red: int = 12) -> list[tuple[str, str]]:
    """(message, expected tier): eval questions (tier none) and labelled red flags that triage catches alone."""
    from assistant.safety import Triager

    triager = Triager.from_file()
    red = [(c["message"], c["level"]) for c in read_jsonl(TRIAGE_CASES)
           if c["level"] != "none" and not c["history"] and triager.assess(c["message"], ()).level == c["level"]]
    normal = [(q["question"], "none") for q in eval_questions()]
    rng = random.Random(7)
    return rng.sample(red, min(n_red, len(red))) + normal


def scripts_for(users: int, per_user: int) -> list[list[tuple[str, str]]]:
    """Each user's messages: at least one red flag each; about a third of all messages are red flags."""
    messages = load_messages()
    red = [m for m in messages if m[1] != "none"]
    normal = [m for m in messages if m[1] == "none"]
    rng = random.Random(11)
    scripts = []
    for _ in range(users):
        script = [rng.choice(red)] + [rng.choice(red) if rng.random() < 0.3 else rng.choice(normal)
                                      for _ in range(per_user - 1)]
        rng.shuffle(script)
        scripts.append(script)
    return scripts


def run(app: App, users: int, per_user: int) -> dict[str, Any]:
    """``users`` threads, released together, each sending its ``per_user`` messages without a pause."""
    from gradio_client import Client

    from assistant.safety.notices import default_texts

    notices = default_texts().notices
    scripts = scripts_for(users, per_user)
    clients = [Client(app.url, verbose=False) for _ in range(users)]
    barrier = threading.Barrier(users)
    latencies: list[float] = []
    reply_bytes: list[int] = []  # one answer's HTML, as the chat sends it
    history_bytes: list[int] = []  # the whole chat, which gradio sends again with every update
    errors: list[str] = []
    missed: list[str] = []
    lock = threading.Lock()

    def user(i: int) -> None:
        barrier.wait()
        for message, level in scripts[i]:
            started = now()
            try:
                out, *_ = clients[i].predict(message, api_name="/chat")
                reply = visible_text(content(out[-1]))
                elapsed = now() - started
                with lock:
                    reply_bytes.append(len(content(out[-1]).encode("utf-8")))
                    history_bytes.append(sum(len(content(m).encode("utf-8")) for m in out))
                problem = None if reply.strip() and "Something went wrong" not in reply else "empty or error reply"
            except Exception as exc:  # noqa: BLE001
                elapsed, reply, problem = now() - started, "", f"{type(exc).__name__}: {exc}"
            escalated = level == "none" or notices[level] in reply or (level == "urgent" and notices["emergency"] in reply)
            with lock:
                latencies.append(elapsed)
                if problem:
                    errors.append(f"user {i}: {problem}")
                elif not escalated:
                    missed.append(f"user {i}: {level}: {message[:60]}")

    rss_before = rss_mb(app.proc.pid)
    app_cpu, own_cpu = cpu_s(app.proc.pid), time.process_time()
    started = now()
    with ThreadPoolExecutor(max_workers=users) as pool:
        list(pool.map(user, range(users)))
    wall = now() - started
    app_cpu_end, own_cpu = cpu_s(app.proc.pid), time.process_time() - own_cpu
    # subtle: closed-loop users with no pause between messages keep every CPU busy, so latency
    # is about users / throughput, and throughput is CPUs / (app + load generator CPU per request).
    per_request = max(len(latencies), 1)
    return {
        "users": users,
        "messages_per_user": per_user,
        "requests": len(latencies),
        "red_flag_requests": sum(1 for s in scripts for _, level in s if level != "none"),
        "errors": len(errors),
        "error_samples": errors[:5],
        "red_flags_not_escalated": len(missed),
        "not_escalated_samples": missed[:5],
        "latency": dist_ms(latencies),
        "reply_kb": {"p50": round(percentile(reply_bytes, 50) / 1024, 1) if reply_bytes else 0,
                     "max": round(max(reply_bytes, default=0) / 1024, 1)},
        "history_kb_max": round(max(history_bytes, default=0) / 1024, 1),
        "wall_s": round(wall, 2),
        "throughput_rps": round(len(latencies) / wall, 2),
        "app_cpu_ms_per_request": round((app_cpu_end - app_cpu) * 1000 / per_request, 1)
        if app_cpu is not None and app_cpu_end is not None else None,
        "load_generator_cpu_ms_per_request": round(own_cpu * 1000 / per_request, 1),
        "app_rss_before": rss_before,
        "app_rss_after": rss_mb(app.proc.pid),
        "note": "latency is until the whole reply has arrived (the UI sends an extractive answer whole, "
                "at once); the load generator shares the machine's CPUs with the app",
    }


def rows(lo: dict[str, Any]) -> list[Row]:
    if not lo.get("requests"):
        return []
    return [
        row(f"load: {lo['users']} users x {lo['messages_per_user']} msgs", f"errors {lo['errors']}",
            f"red flags not escalated {lo['red_flags_not_escalated']} of {lo['red_flag_requests']}"),
        row("load: latency p50 / p95, ms", f"{lo['latency']['p50_ms']} / {lo['latency']['p95_ms']}",
            f"{lo['throughput_rps']} req/s; app RSS {lo['app_rss_after'].get('rss_mb')} MB"),
    ]

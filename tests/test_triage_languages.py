"""The core red flags in languages beyond English, Spanish and French escalate too."""

from __future__ import annotations

import pytest

from assistant.safety import triage

CASES = [
    ("微针后我发烧了，脸上有脓", "urgent", "Chinese: fever and pus"),
    ("喉嚨發緊，呼吸困難", "emergency", "Chinese (traditional): throat tight, hard to breathe"),
    ("لدي حمى وصديد في وجهي بعد الوخز بالإبر الدقيقة", "urgent", "Arabic: fever and pus, 'and' joined to the word"),
    ("لا أستطيع التنفس", "emergency", "Arabic: I can't breathe"),
    ("estou com febre e pus no rosto", "urgent", "Portuguese: fever and pus"),
    ("não consigo respirar", "emergency", "Portuguese: can't breathe"),
    ("Meine Lippen geschwollen und ich bekomme keine Luft", "emergency", "German: lips swollen, no air"),
    ("Ich habe Fieber seit gestern", "urgent", "German: fever"),
    ("ho la gola gonfia dopo il trattamento", "emergency", "Italian: throat swelling"),
    ("ho la febbre", "urgent", "Italian: fever"),
    ("я не могу дышать после процедуры", "emergency", "Russian: can't breathe"),
    ("у меня температура и гной", "urgent", "Russian: temperature and pus"),
]


@pytest.mark.parametrize(("message", "level", "why"), CASES, ids=[c[2] for c in CASES])
def test_other_languages_escalate(message: str, level: str, why: str) -> None:
    assert triage(message).level == level, why


def test_the_language_model_loads_once_when_many_first_messages_arrive_together() -> None:
    import threading

    from assistant.safety import languages

    languages._identifier.cache_clear()
    languages._load_identifier.cache_clear()
    threads = [threading.Thread(target=languages._identifier) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert languages._load_identifier.cache_info().misses == 1

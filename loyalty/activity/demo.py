"""Demo data for activity points, called from ``members.demo.demo_seed`` (idempotent)."""

from members.models import Brand

from .models import ActivityRule, Survey

DEMO_RULES = [  # (activity, points, extra)
    ("registration", 50, {}),
    ("profile_complete", 30, {}),
    ("birthday", 100, {"birthday_window": ActivityRule.BirthdayWindow.BIRTH_MONTH}),
    ("check_in", 5, {}),
    ("survey", 0, {"daily_cap": 3}),
]

DEMO_SURVEY_QUESTIONS = [
    {"key": "visits", "type": "choice", "label_th": "คุณแวะมาที่ร้านบ่อยแค่ไหน", "label_en": "How often do you visit us?",
     "required": True, "choices": [{"value": "weekly", "th": "ทุกสัปดาห์", "en": "Every week"},
                                   {"value": "monthly", "th": "เดือนละครั้ง", "en": "Once a month"},
                                   {"value": "rarely", "th": "นาน ๆ ครั้ง", "en": "Rarely"}]},
    {"key": "wish", "type": "text", "label_th": "อยากให้เรามีเมนูอะไรเพิ่ม", "label_en": "Which drink should we add?",
     "required": False},
]


def demo_activity_seed(*, brand: Brand) -> None:
    for activity, points, extra in DEMO_RULES:
        rule = ActivityRule(brand=brand, activity=activity, points=points, **extra)
        rule.clean()  # sets the activity's period
        ActivityRule.objects.get_or_create(brand=brand, activity=activity, defaults={
            "points": points, "period": rule.period, **extra})
    Survey.objects.get_or_create(brand=brand, title="แบบสอบถามความพึงพอใจ", defaults={
        "title_en": "Tell us what you think", "questions": DEMO_SURVEY_QUESTIONS, "points": 20,
        "description": "ตอบ 2 คำถามสั้น ๆ รับ 20 แต้ม · Two short questions, 20 points."})

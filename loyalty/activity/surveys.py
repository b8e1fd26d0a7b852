"""Survey questions: the JSON shape staff write, and the answers members send."""

from django.utils.translation import gettext as _

QUESTION_TYPES = ("text", "choice")
MAX_QUESTIONS = 30
MAX_TEXT = 1000


def questions_problems(questions) -> list[str]:
    """What is wrong with a survey's ``questions`` JSON (empty when it is fine)."""
    if not isinstance(questions, list) or not questions:
        return [_("Add at least one question (a JSON list).")]
    if len(questions) > MAX_QUESTIONS:
        return [_("At most %(count)d questions.") % {"count": MAX_QUESTIONS}]
    problems, keys = [], set()
    for number, question in enumerate(questions, start=1):
        if not isinstance(question, dict):
            problems.append(_("Question %(number)d is not an object.") % {"number": number})
            continue
        key = question.get("key")
        if not isinstance(key, str) or not key.strip() or key in keys:
            problems.append(_("Question %(number)d needs its own \"key\".") % {"number": number})
        keys.add(key)
        if question.get("type") not in QUESTION_TYPES:
            problems.append(_("Question %(number)d: \"type\" is \"text\" or \"choice\".") % {"number": number})
        if not str(question.get("label_th", "")).strip():
            problems.append(_("Question %(number)d needs a Thai label (\"label_th\").") % {"number": number})
        if question.get("type") == "choice":
            choices = question.get("choices")
            if not isinstance(choices, list) or not choices or not all(
                    isinstance(choice, dict) and str(choice.get("value", "")).strip() for choice in choices):
                problems.append(_("Question %(number)d: give \"choices\" with a \"value\" each.")
                                % {"number": number})
    return problems


def question_label(question: dict, language: str) -> str:
    return (question.get("label_en") if language == "en" and question.get("label_en") else
            question.get("label_th", question.get("key", "")))


def choice_options(question: dict, language: str) -> list[tuple[str, str]]:
    options = []
    for choice in question.get("choices") or []:
        value = str(choice.get("value"))
        label = choice.get("en") if language == "en" and choice.get("en") else choice.get("th", value)
        options.append((value, label))
    return options


def answers_clean(questions: list[dict], raw: dict) -> tuple[dict, dict]:
    """``(answers, errors)``: answers keyed by question key; errors keyed ``q_<key>``."""
    answers, errors = {}, {}
    for question in questions:
        key = question["key"]
        value = str(raw.get(key, "") or "").strip()
        if not value:
            if question.get("required"):
                errors[f"q_{key}"] = [_("This field is required.")]
            continue
        if question["type"] == "choice" and value not in {str(c.get("value")) for c in question.get("choices", [])}:
            errors[f"q_{key}"] = [_("Choose from the list.")]
            continue
        if len(value) > MAX_TEXT:
            errors[f"q_{key}"] = [_("At most %(count)d characters.") % {"count": MAX_TEXT}]
            continue
        answers[key] = value
    return answers, errors

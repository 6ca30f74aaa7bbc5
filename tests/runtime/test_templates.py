"""Message templates: the placeholders every existing document uses render as they always did, and Jinja (in its
sandbox) adds sums, defaults, conditions and filters; a template that cannot work sends readable text and says why."""

import pytest

from runtime.templates import check_template, placeholders, render_template, template_problems

ANN = {"first_name": "Ann", "full_name": "Ann Lee", "user_id": 4, "referral_points": 1, "half": 0.5, "vip": True,
       "order": {"plan": "pro"}, "email": None, "nickname": "", "bot_name": "Shop", "link": "https://m.me/1?ref=g-c4",
       "referred.first_name": "Bob", "referrer.first_name": "Cat", "me.first_name": "Ann"}


def render(text: str):
    return render_template(text, ANN.get)


@pytest.mark.parametrize(("text", "shown", "missing"), [  # what documents written before Jinja hold
    ("Hi {{first_name}}!", "Hi Ann!", []),
    ("Hi {{ first_name }}, you are #{{user_id}}", "Hi Ann, you are #4", []),
    ("{{referred.first_name}} joined with your link!", "Bob joined with your link!", []),
    ("Thanks from {{referrer.first_name}} and {{me.first_name}}", "Thanks from Cat and Ann", []),
    ("{{referral_points}} of 3 · {{half}} · {{vip}} · {{order}}", '1 of 3 · 0.5 · yes · {"plan": "pro"}', []),
    ("Email: {{email|not given}}, nick: {{ nickname | none }}", "Email: not given, nick: none", []),
    ("Points: {{points|0}}", "Points: 0", []),
    ("Email: {{email}}.", "Email: .", ["email"]),
    ("Share {{link}} from {{bot_name}}", "Share https://m.me/1?ref=g-c4 from Shop", []),
    ("No braces at all", "No braces at all", []),
])
def test_placeholders_render_exactly_as_before(text: str, shown: str, missing: list[str]) -> None:
    rendered = render(text)
    assert (rendered.text, rendered.missing, rendered.failed) == (shown, missing, None)


@pytest.mark.parametrize(("text", "shown"), [
    ("{{3 - referral_points}} more to go", "2 more to go"),
    ("{{ 3 - half }} more to go, {{ 10 / 4 }}, {{ 3 - 2.1 }}", "2.5 more to go, 2.5, 0.9"),
    ("{% if referral_points >= 3 %}Coupon!{% else %}{{ 3 - referral_points }} more to go{% endif %}",
     "2 more to go"),
    ("{{ nickname | default(first_name) }} / {{ email | default('no email') }}", "Ann / no email"),
    ("{{ first_name | upper }} {{ full_name | lower }} {{ 2.345 | round(1) }}", "ANN ann lee 2.3"),
    ("{{ first_name | replace('n', 'nn') }}", "Annnn"),
    ("{% if referred.first_name %}{{ referred.first_name }} joined{% endif %}", "Bob joined"),
    ("{{ 'VIP' if vip else 'guest' }}, {{ order.plan }}", "VIP, pro"),
    ("{{ first_name }} has {{ email | default('-') }}, {{ nick|friend }}", "Ann has -, friend"),
])
def test_templates_count_choose_and_filter(text: str, shown: str) -> None:
    rendered = render(text)
    assert (rendered.text, rendered.failed) == (shown, None)


def test_a_missing_value_inside_jinja_is_left_out_and_reported() -> None:
    rendered = render("{% if vip %}Hi {{ email }}{% endif %} and {{ referred.last_name }}")
    assert (rendered.text, rendered.missing) == ("Hi  and ", ["email", "referred.last_name"])


@pytest.mark.parametrize(("text", "fallback", "why"), [
    ("{{ 3 - points }} more to go", "more to go", "'points' has no value"),
    ("You are {{ 10 / (referral_points - 1) }} away", "You are away", "divides by zero"),
    ("Big: {{ 10 ** 100000 }}!", "Big: !", "too big a value"),
    ("Long: {{ 'ab' * 1000000 }}", "Long:", "repeats a text too many times"),
    ("Sum: {{ first_name + 1 }}", "Sum:", "the wrong type"),
    ("Grow: {{ 'a' | replace('a', 'aaaaaaaaaa') | replace('a', 'aaaaaaaaaa') | replace('a', 'aaaaaaaaaa') "
     "| replace('a', 'aaaaaaaaaa') | replace('a', 'aaaaaaaaaa') }}", "Grow:", "too long"),
])
def test_a_template_that_fails_at_run_time_sends_readable_text_and_says_why(text, fallback, why) -> None:
    rendered = render(text)
    assert rendered.text == fallback and "{" not in rendered.text and "}" not in rendered.text
    assert why in rendered.failed


@pytest.mark.parametrize(("text", "problem"), [
    ("{{ first_name }", "unexpected '}'"),
    ("{% if vip %}no end", "'endif'"),
    ("{% for x in order %}{{ x }}{% endfor %}", "A loop ({% for %}) cannot be used in messages"),
    ("{{ first_name.__class__.__mro__ }}", None),  # compiles, and the sandbox shows nothing
    ("{{ cycler() }}", "Calling a function cannot be used in messages"),
    ("{{ first_name | wordwrap(5) }}", "There is no filter called “wordwrap”"),
    ("{% set x = 1 %}", "{% set %} cannot be used in messages"),
])
def test_templates_that_cannot_be_used_are_explained(text: str, problem: str | None) -> None:
    found = check_template(text)
    assert found == problem if problem is None else problem in found
    assert "{" not in render(text).text.replace("{{ … }}", "")


def test_the_sandbox_hides_python_internals() -> None:
    rendered = render("[{{ first_name.__class__ }}][{{ referred._lookup }}][{{ referred.keys }}]")
    assert rendered.text == "[][][]" and rendered.failed is None


@pytest.mark.parametrize(("text", "names"), [
    ("Hi {{first_name}}", ["first_name"]),
    ("{{3 - referral_points}} more, {{email|none}}", ["referral_points", "email"]),
    ("{% if referred.first_name %}{{ referred['last_name'] }}{% endif %}", ["referred.first_name",
                                                                           "referred.last_name"]),
])
def test_placeholders_lists_the_names_a_template_reads(text: str, names: list[str]) -> None:
    assert placeholders(text) == names


def test_problems_name_what_is_not_a_field() -> None:
    fields = ["referral_points", "coupon_code"]
    assert template_problems("{{ 3 - referral_points }} left, {{ Coupon_Code }}, {{referred.first_name}}", fields) == []
    assert template_problems("{{link}}", fields, extra=("link",)) == []
    [(code, message)] = template_problems("{{ 3 - referal_points }} left", fields)
    assert code == "unknown_placeholder"
    assert message == ("It inserts {{referal_points}}, but there is no field called “referal_points”. Create the "
                       "field on the Fields page or correct the name.")
    [(code, _)] = template_problems("{{ 3 - }}", fields)
    assert code == "bad_template"

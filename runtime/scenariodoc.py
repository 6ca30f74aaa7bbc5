"""The scenario document (docs/scenario-format.md): its format name and the checks that stop one from running, each
naming the step. Pure, like the flow document, so saving a scenario can check it without running anything; running
one is runtime/simulator/scenarios.py."""

from runtime.vocabulary import is_duration

FORMAT = "referflow-scenario"


def check_scenario(scenario: object) -> list[str]:
    """Every problem that stops a scenario from running, naming the step."""
    if not isinstance(scenario, dict) or scenario.get("format") != FORMAT:
        return [f"A scenario is a JSON object with \"format\": \"{FORMAT}\"."]
    steps, people = scenario.get("steps"), scenario.get("people", {})
    if not isinstance(steps, list) or not steps:
        return ["The scenario has no steps."]
    problems = []
    for number, step in enumerate(steps, 1):
        kinds = [key for key in ("open", "reply", "press", "advance") if isinstance(step, dict) and key in step]
        if len(kinds) != 1:
            problems.append(f"Step {number}: say exactly one of open, reply, press or advance.")
        elif kinds[0] != "advance" and step.get("as") not in people:
            problems.append(f"Step {number}: 'as' must name one of the scenario's people ({', '.join(people)}).")
        elif kinds[0] == "advance" and not is_duration(str(step["advance"])):
            problems.append(f"Step {number}: '{step['advance']}' is not a duration such as 30s, 15m, 2h or 1d.")
    return problems

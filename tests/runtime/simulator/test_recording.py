"""The recording the Simulator page keeps: its steps offer what happened as expectations and become a scenario."""

import pytest

from runtime.simulator.recording import ContactChange, Recording, RecordingError
from storage.scenarios import ScenarioSave


def record_referral(recording: Recording) -> None:
    ann = recording.add_person(contact_id=7, name="Ann", channel="messenger", channel_user_id="sim-1")
    recording.record({"open": "https://m.me/1?ref=giveaway2025", "as": ann.key}, "Ann opened", "draft",
                     {"messages": [{"contact_id": 7, "text": "Your link: https://m.me/1?ref=giveaway2025-c7"}]},
                     [ContactChange(7, {}, {}, [], ["giveaway"])], [7])
    bob = recording.add_person(contact_id=8, name="Bob", channel="messenger", channel_user_id="sim-2")
    recording.record({"open": "https://m.me/1?ref=giveaway2025-c7", "as": bob.key}, "Bob opened", "draft",
                     {"referral": {"status": "counted"}, "messages": [{"contact_id": 7, "text": "Bob joined!"}]},
                     [ContactChange(7, {"referral_points": 1}, {"referral_points": 2}, ["giveaway"], [])], [8, 7])


def test_recorded_steps_offer_what_happened_as_expectations() -> None:
    recording = Recording()
    record_referral(recording)
    first, second = recording.steps
    assert second.step == {"open": "https://m.me/1?ref=giveaway2025-c{{ann.id}}", "as": "bob"}
    assert [choice.label for choice in first.choices] == [
        "Ann receives “Your link: https://m.me/1?ref=giveaway2025-c7”", "Ann has the tag giveaway"]
    assert [(choice.expectation, choice.chosen) for choice in second.choices] == [
        ({"referral": "counted"}, True),
        ({"message_to": "ann", "contains": "Bob joined!"}, False),
        ({"message_to": "bob", "nothing": True}, False),
        ({"field": "referral_points", "of": "ann", "equals": 2}, False),
        ({"tag": "giveaway", "of": "ann", "present": False}, False)]


def test_the_chosen_expectations_become_a_scenario_that_names_people_by_key() -> None:
    recording = Recording()
    record_referral(recording)
    scenario = recording.to_document(chosen={(0, 0), (1, 0), (1, 3)})
    assert scenario["people"] == {"ann": {"channel": "messenger", "first_name": "Ann", "channel_user_id": "sim-1"},
                                  "bob": {"channel": "messenger", "first_name": "Bob", "channel_user_id": "sim-2"}}
    assert scenario["copy"] == "draft"
    assert scenario["steps"][0]["expect"] == [
        {"message_to": "ann", "contains": "Your link: https://m.me/1?ref=giveaway2025-c{{ann.id}}"}]
    assert scenario["steps"][1]["expect"] == [{"referral": "counted"},
                                              {"field": "referral_points", "of": "ann", "equals": 2}]
    ScenarioSave(name="Recorded", document=scenario)  # the runner accepts it


def test_two_people_with_one_name_get_two_keys() -> None:
    recording = Recording()
    keys = [recording.add_person(contact_id=n, name="Ann Lee", channel="messenger", channel_user_id=f"sim-{n}").key
            for n in (1, 2, 3)]
    assert keys == ["annlee", "annlee2", "annlee3"]


def test_what_a_recording_cannot_replay_is_refused() -> None:
    recording = Recording()
    with pytest.raises(RecordingError, match="Nothing to save yet"):
        recording.to_document(chosen=set())
    record_referral(recording)
    recording.steps[1].copy = "published"
    with pytest.raises(RecordingError, match="both the draft and the published flows"):
        recording.to_document(chosen=set())
    recording = Recording()
    recording.add_person(contact_id=3, name="Old", channel="messenger", channel_user_id="sim-3", known_before=True)
    recording.record({"reply": "hi", "as": "old"}, "Old replied", "draft", {}, [], [3])
    with pytest.raises(RecordingError, match="Old existed before the recorded steps"):
        recording.to_document(chosen=set())

"""The near-miss ranking (domain/near_miss.py): which photos of a folder a missing name most likely meant."""

from __future__ import annotations

import pytest

from dropswap.domain.near_miss import (
    Miss,
    Suggestion,
    did_you_mean,
    edit_distance,
    near_misses,
    rename_sidecar,
)

FOLDER = "inbox/trip/"


def _ranked(missing: str, *names: str) -> list[tuple[str, Miss]]:
    found = near_misses(FOLDER + missing, [FOLDER + n for n in names])
    return [(m.name, m.kind) for m in found]


@pytest.mark.parametrize(
    ("missing", "present", "kind"),
    [
        ("IMG_1.jpg", "IMG_1.JPG", Miss.CASE),
        ("img_1.jpg", "IMG_1.jpg", Miss.CASE),
        ("IMG_1.jpg", "IMG_1.jpeg", Miss.EXTENSION),
        ("IMG_1.jpeg", "IMG_1.jpg", Miss.EXTENSION),
        ("IMG_1.jpg", "img_1.JPEG", Miss.EXTENSION),
        ("IMG_1.jpg", "IMG_1.png", Miss.EXTENSION),
        ("noext", "noext.jpg", Miss.NO_EXTENSION),
        ("IMG_1", "IMG_1.jpeg", Miss.NO_EXTENSION),
        ("hoper.jpg", "hopper.jpg", Miss.SPELLING),
        ("alcie.jpg", "alice.jpg", Miss.SPELLING),  # two neighbours swapped: one edit
        ("hoper.jpeg", "hopper.jpg", Miss.SPELLING),  # .jpeg is .jpg
        ("graduation.jpg", "graduatoin2.jpg", Miss.SPELLING),  # long name: two edits
    ],
)
def test_given_a_photo_that_differs_in_one_way_when_ranked_then_it_is_named_with_that_way(
    missing: str, present: str, kind: Miss
) -> None:
    assert _ranked(missing, present, "unrelated.jpg") == [(present, kind)]


@pytest.mark.parametrize(
    ("missing", "present"),
    [
        ("photo.jpg", "phono.png"),  # a name under 8 characters: one edit only, and this is two
        ("bob.jpg", "rob.jpg"),  # a name under 4 characters: not compared by spelling
        ("hoper.jpg", "hpr.jpg"),
        ("alice.jpg", "alice.jpg.faceswap.json"),  # a sidecar is no photo
        ("alice.jpg", "alice.swapped.jpg"),  # nor is one of the stack's outputs
        ("alice.jpg", "alice.gif"),  # nor a type the stack cannot use
        ("alice.jpg", "sub/alice.jpg"),  # nor one in another folder
    ],
)
def test_given_no_photo_close_enough_when_ranked_then_none_is_named(missing: str, present: str) -> None:
    assert _ranked(missing, present) == []


def test_given_several_near_misses_then_the_strongest_come_first_and_at_most_three() -> None:
    # Given a case variant, two other extensions, a misspelling and a spelling with the other extension
    names = ["IMG_2.jpg", "IMG_1.png", "IMG_1.jpeg", "IMG_1.JPG", "IMG_11.jpg"]
    # When ranked for IMG_1.jpg
    ranked = _ranked("IMG_1.jpg", *names)
    # Then case first, then the other extensions in key order; the misspellings are past the limit
    assert ranked == [("IMG_1.JPG", Miss.CASE), ("IMG_1.jpeg", Miss.EXTENSION), ("IMG_1.png", Miss.EXTENSION)]


def test_given_misspellings_then_the_fewer_edits_come_first() -> None:
    found = near_misses(FOLDER + "graduation.jpg", [FOLDER + "gradution2.jpg", FOLDER + "graduaton.jpg"])
    assert [(m.name, m.distance) for m in found] == [("graduaton.jpg", 1), ("gradution2.jpg", 2)]


@pytest.mark.parametrize(
    ("a", "b", "distance"),
    [("", "", 0), ("abc", "abc", 0), ("abc", "abd", 1), ("abc", "acb", 1), ("abc", "ab", 1),
     ("ab", "ba", 1), ("abcd", "badc", 2), ("kitten", "sitting", 3)],
)
def test_given_two_names_then_edit_distance_counts_inserts_deletes_replaces_and_swaps(
    a: str, b: str, distance: int
) -> None:
    assert edit_distance(a, b, bound=5) == distance


def test_given_names_further_apart_than_the_bound_then_the_distance_stops_at_bound_plus_one() -> None:
    assert edit_distance("a" * 500, "b" * 500, bound=2) == 3
    assert edit_distance("short", "a much longer name", bound=2) == 3


def test_given_one_or_several_suggestions_then_the_sentence_says_did_you_mean_and_why() -> None:
    # Given one near miss, Then the sentence says where it is and how it differs
    [one] = near_misses(FOLDER + "a.jpg", [FOLDER + "a.jpeg"])
    assert did_you_mean([Suggestion("a.jpeg", "s3://b/inbox/trip/a.jpeg", one.why)]) == (
        "did you mean 'a.jpeg'? s3://b/inbox/trip/a.jpeg exists (same name, another extension)"
    )
    # Given two, Then how each differs
    two = near_misses(FOLDER + "a.jpg", [FOLDER + "A.jpg", FOLDER + "a.png"])
    assert did_you_mean([Suggestion(m.name, m.key, m.why) for m in two]) == (
        "did you mean 'A.jpg' (same name in another letter case) or 'a.png' (same name, another extension)?"
    )


def test_given_a_photo_key_then_the_sidecar_fix_names_the_sidecar_to_upload() -> None:
    assert rename_sidecar("inbox/trip/IMG_1.jpeg").endswith("rename it to 'IMG_1.jpeg.faceswap.json'")

from tests.reference import REFERENCE, generate


def test_reference_matches_copier_yml() -> None:
    assert REFERENCE.read_text() == generate(), "run: python -m tests.reference"

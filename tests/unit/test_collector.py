"""The API function sets the garbage collector for a long-lived heap when it loads
(chalicelib/collector.py): what it loaded is frozen, collections are rarer."""
import gc

from chalicelib import collector


def test_loading_the_api_freezes_its_heap_and_makes_collections_rarer():
    import app  # noqa: F401 - loading it is what is tested

    assert gc.get_threshold() == collector.THRESHOLDS
    assert gc.get_freeze_count() > 10_000  # the modules' objects, not a handful

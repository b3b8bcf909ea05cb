from external import skip_if_missing


def pytest_configure(config):
    config.addinivalue_line("markers", "needs(*programs): the test runs these external programs")


def pytest_collection_modifyitems(config, items):
    skip_if_missing(items)

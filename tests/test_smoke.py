import openwx_worker


def test_package_imports():
    assert openwx_worker.__version__

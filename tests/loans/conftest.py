import pytest

from tests.mailserver import SmtpServer
from tests.smsgateway import GatewayServer


@pytest.fixture
def smtp_server():
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def gateway_server():
    server = GatewayServer()
    yield server
    server.close()

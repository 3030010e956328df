"""SASL/SSL settings reach every client: kafka-python tools, the Faust app and the aiokafka vector follower."""
from __future__ import annotations

import pytest
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

from streams.errors import ImproperlyConfigured
from streams.runtime.app import create_app
from streams.runtime.kafka import bootstrap_servers, faust_credentials, kafka_python_config
from streams.settings import Settings


def test_sasl_scram_over_tls_reaches_kafka_python_faust_and_aiokafka(tmp_path):
    settings = Settings(broker="kafka://b1:9093;b2:9093", security_protocol="SASL_SSL", sasl_mechanism="SCRAM-SHA-512",
                        sasl_username="shop", sasl_password="s3cret", data_dir=tmp_path)
    config = kafka_python_config(settings)
    assert config["bootstrap_servers"] == ["b1:9093", "b2:9093"]
    assert (config["security_protocol"], config["sasl_mechanism"]) == ("SASL_SSL", "SCRAM-SHA-512")
    assert (config["sasl_plain_username"], config["sasl_plain_password"]) == ("shop", "s3cret")

    app, _, _ = create_app(settings)
    auth = credentials_to_aiokafka_auth(app.conf.broker_credentials, app.conf.ssl_context)
    assert auth["security_protocol"] == "SASL_SSL" and auth["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (auth["sasl_plain_username"], auth["sasl_plain_password"]) == ("shop", "s3cret")
    assert auth["ssl_context"] is not None


def test_plain_tls_and_plaintext():
    assert faust_credentials(Settings()) is None
    assert kafka_python_config(Settings())["security_protocol"] == "PLAINTEXT"
    tls = faust_credentials(Settings(security_protocol="SSL"))
    assert credentials_to_aiokafka_auth(tls)["security_protocol"] == "SSL"


def test_sasl_without_a_user_is_a_configuration_error():
    with pytest.raises(ImproperlyConfigured, match="STREAMREC_SASL_USERNAME"):
        faust_credentials(Settings(security_protocol="SASL_PLAINTEXT"))
    with pytest.raises(ImproperlyConfigured):
        bootstrap_servers("kafka://")

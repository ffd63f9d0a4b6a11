"""The profile's `cellular.sms_configuration`: the configuration SMS a device's application
understands and how the lab sees its effect (the maker's IXIT for FS38-GSM-02)."""

from __future__ import annotations

from pydantic import Field, field_serializer, model_validator

from harness.config.base import NonEmptyStr, StrictModel, problem
from harness.util.text import MASK


class SmsConfiguration(StrictModel):
    """What an SMS can change on the device, as its maker documents it."""

    command: NonEmptyStr = Field(
        description="the configuration SMS as the application documents it, with {value} where the "
        "setting goes, e.g. 'SERVER {value}'"
    )
    authenticated_command: str | None = Field(
        None,
        description="the same command as an authorised sender sends it, with {secret} and {value}, "
        "e.g. 'PIN {secret} SERVER {value}'",
    )
    secret: str | None = Field(
        None, repr=False, description="the device's SMS command secret (PIN, password)"
    )
    authorised_sender: str | None = Field(
        None,
        pattern=r"^\+?\d{3,15}$",
        description="the management number the device trusts, e.g. +491700000001",
    )
    value_template: NonEmptyStr = Field(
        "{marker}.invalid:1", description="a valid setting value with {marker}, e.g. '{marker}.invalid:1'"
    )
    show_command: NonEmptyStr = Field(
        description="a shell command on the device that prints the configuration an SMS can change"
    )
    log_command: str | None = Field(
        None, description="a shell command on the device that prints its log, e.g. 'cat /var/log/messages'"
    )

    @field_serializer("secret")
    def _mask_secret(self, secret: str | None) -> str | None:
        return MASK if secret else secret

    @model_validator(mode="after")
    def _placeholders(self) -> SmsConfiguration:
        if "{value}" not in self.command:
            raise problem("command has no {value} placeholder", "a command such as 'SERVER {value}'")
        if "{marker}" not in self.value_template:
            raise problem(
                "value_template has no {marker} placeholder", "a value such as '{marker}.invalid:1'"
            )
        if self.authenticated_command is not None:
            if "{value}" not in self.authenticated_command:
                raise problem("authenticated_command has no {value}", "e.g. 'PIN {secret} SERVER {value}'")
            if "{secret}" in self.authenticated_command and not self.secret:
                raise problem("authenticated_command needs {secret} but no secret is given", "secret: ...")
        return self

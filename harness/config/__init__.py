"""Device profiles and lab configs: validated models loaded from YAML."""

from harness.config.credentials import DEFAULT_CREDENTIALS_FILE, load_default_credentials
from harness.config.lab import (
    CaptureSettings,
    LabConfig,
    LabgridSettings,
    QemuSettings,
    ServerSettings,
    Timeouts,
)
from harness.config.loader import load_any, load_lab_config, load_profile, validate_files
from harness.config.profile import (
    ConsoleSettings,
    DeviceProfile,
    Features,
    LoginCredentials,
    NetworkSettings,
    PlaintextAllowance,
    QemuConsole,
    Release,
    SecureCommunication,
    SerialConsole,
    Service,
    TelnetConsole,
    UpdatePolicy,
)

__all__ = [
    "DEFAULT_CREDENTIALS_FILE",
    "CaptureSettings",
    "ConsoleSettings",
    "DeviceProfile",
    "Features",
    "LabConfig",
    "LabgridSettings",
    "LoginCredentials",
    "NetworkSettings",
    "PlaintextAllowance",
    "QemuConsole",
    "QemuSettings",
    "Release",
    "SecureCommunication",
    "SerialConsole",
    "ServerSettings",
    "Service",
    "TelnetConsole",
    "Timeouts",
    "UpdatePolicy",
    "load_any",
    "load_default_credentials",
    "load_lab_config",
    "load_profile",
    "validate_files",
]

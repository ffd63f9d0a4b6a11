"""The bench profiles of Debian's U-Boot boards and the lab config keys the bench path adds
(`boot_media`) load, and mistakes in them are one line naming the field."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from harness.config import load_lab_config, load_profile
from harness.errors import ConfigError

BENCHES = Path(__file__).parent / "data" / "benches"
EXAMPLE_LAB = Path(__file__).resolve().parent.parent / "lab_configs" / "examples" / "real-bench.yaml"


@pytest.mark.parametrize("name", ["uboot-qemu-arm64-stock", "uboot-qemu-arm64-locked"])
def test_uboot_bench_profiles_load(name: str) -> None:
    profile = load_profile(BENCHES / f"{name}.yaml")
    assert profile.console.serial.port == "board-console" and profile.bootloader is not None


def test_fit_profile_names_the_boards_fit_next_to_it(tmp_path: Path) -> None:
    copy = Path(shutil.copy(BENCHES / "uboot-qemu-arm64-fit.yaml", tmp_path))
    with pytest.raises(ConfigError) as error:
        load_profile(copy)
    assert "secure_boot.fit_image" in str(error.value) and "\n" not in str(error.value)
    (tmp_path / "board.itb").write_bytes(b"\xd0\x0d\xfe\xed")
    assert load_profile(copy).secure_boot.fit_image == tmp_path / "board.itb"


def test_boot_media_write_needs_the_image_placeholder(tmp_path: Path) -> None:
    assert "{image}" in load_lab_config(EXAMPLE_LAB).boot_media.write
    text = EXAMPLE_LAB.read_text().replace(
        '"cp {image} /srv/tftp/board-3.itb"', '"flash-tool /tmp/board.itb"'
    )
    path = tmp_path / "lab.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as error:
        load_lab_config(path)
    assert "boot_media.write" in str(error.value) and "\n" not in str(error.value)


def test_fit_method_needs_fit_image(tmp_path: Path) -> None:
    data = yaml.safe_load((BENCHES / "uboot-qemu-arm64-stock.yaml").read_text())
    data["secure_boot"] = {"method": "u-boot-fit"}
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match="needs fit_image"):
        load_profile(path)

"""The six Osmocom config files of a GSM network on one host, from a network identity and security.

Measured with Debian 12's osmo-stp 1.6, osmo-hlr 1.5, osmo-mgw 1.10, osmo-msc 1.9, osmo-bsc 1.9 and
osmo-bts-virtual 1.5 (LAB_NOTES "A real GSM network on loopback, without kernel SCTP"):
- the A interface is SCCPlite over IPA (TCP), since these versions speak M3UA over SCTP only
  and this kernel has none. osmo-stp is the IPA server; osmo-bsc and osmo-msc are its clients. The
  STP finds a client's AS by its IPA unit name, which is the client's ASP name, so each STP AS is
  named after a client ASP; IPA has no routing label, so each AS also overrides the destination
  point code (traffic from the BSC goes to the MSC and back).
- osmo-msc always creates an M3UA client for A; a second IPA AS whose routing key is the BSC's
  point code gives it the route to the BSC (the dead M3UA AS then only retries, harmlessly).
- osmo-msc opens an SCTP-only SGs listener at start and exits without it: harness.cell.osmocom.
  shim preloads a library that maps that socket to TCP. SGs is unused in a GSM-only cell.
Everything runs in the cell's own network namespace, so the fixed Osmocom ports cannot clash
with anything; VTY, CTRL and SMPP listen on 127.0.0.1 there.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.cell.model import CellSecurity, NetworkIdentity

MSC_POINT_CODE = "0.23.1"
BSC_POINT_CODE = "0.23.3"
STP_IPA_PORT = 5000
SMPP_SYSTEM_ID = "hilsec"


@dataclass(frozen=True)
class Ports:
    """Where each program listens inside the cell's namespace (the programs' own defaults)."""

    stp_vty: int = 4239
    hlr_vty: int = 4258
    hlr_ctrl: int = 4259
    hlr_gsup: int = 4222
    mgw_vty: int = 4243
    mgw_mgcp: int = 2427
    msc_vty: int = 4254
    msc_ctrl: int = 4255
    smpp: int = 2775
    bsc_vty: int = 4242
    bsc_ctrl: int = 4249
    bts_vty: int = 4241


PORTS = Ports()

_LOG = """log stderr
 logging filter all 1
 logging color 0
 logging print category 1
 logging print level 1
 logging timestamp 1
 logging print extended-timestamp 1
 logging level set-all notice
{levels}line vty
 bind 127.0.0.1
"""


def _log(*levels: str) -> str:
    return _LOG.format(levels="".join(f" logging level {level}\n" for level in levels))


def stp_config() -> str:
    return (
        _log("lss7 info")
        + f"""cs7 instance 0
 xua rkm routing-key-allocation dynamic-permitted
 as asp-msc ipa
  routing-key 0 {MSC_POINT_CODE}
  point-code override dpc {BSC_POINT_CODE}
 as asp-bsc ipa
  routing-key 0 {BSC_POINT_CODE}
  point-code override dpc {MSC_POINT_CODE}
 route-table system
  update route {MSC_POINT_CODE} 7.255.7 linkset asp-msc
  update route {BSC_POINT_CODE} 7.255.7 linkset asp-bsc
 listen ipa {STP_IPA_PORT}
  accept-asp-connections dynamic-permitted
"""
    )


def hlr_config(database: str) -> str:
    return (
        _log("main info", "auc info")
        + f"""ctrl
 bind 127.0.0.1
hlr
 database {database}
 gsup
  bind ip 127.0.0.1
 store-imei
"""
    )


def mgw_config() -> str:
    return (
        _log()
        + f"""ctrl
 bind 127.0.0.1
mgcp
 bind ip 127.0.0.1
 bind port {PORTS.mgw_mgcp}
 rtp port-range 4002 4100
 rtp bind-ip 127.0.0.1
 number endpoints 32
"""
    )


def _ciphers(security: CellSecurity) -> str:
    return " ".join(str(c) for c in security.ciphers)


def msc_config(
    identity: NetworkIdentity, security: CellSecurity, *, sms_database: str, smpp_password: str
) -> str:
    imei = "early" if "imei" in security.identity_requests else "0"
    return (
        _log("mm info", "rr info", "lsms info", "msc info", "vlr info", "smpp info", "cc notice")
        + f"""ctrl
 bind 127.0.0.1
cs7 instance 0
 point-code {MSC_POINT_CODE}
 asp asp-msc {STP_IPA_PORT} 0 ipa
  remote-ip 127.0.0.1
  role asp
  sctp-role client
 as as-msc ipa
  asp asp-msc
  routing-key 0 {MSC_POINT_CODE}
  point-code override dpc {BSC_POINT_CODE}
  point-code override patch-sccp both
 as as-route-bsc ipa
  asp asp-msc
  routing-key 0 {BSC_POINT_CODE}
network
 network country code {identity.mcc}
 mobile network code {identity.mnc}
 short name {identity.name}
 long name {identity.name}-test-cell
 encryption a5 {_ciphers(security)}
 authentication {"required" if security.authentication else "optional"}
msc
 mgw remote-ip 127.0.0.1
 mgw remote-port {PORTS.mgw_mgcp}
 mgw local-port 2728
 assign-tmsi
 check-imei-rqd {imei}
sgs
 local-ip 127.0.0.1
smsc
 database {sms_database}
smpp
 local-tcp-ip 127.0.0.1 {PORTS.smpp}
 policy closed
 esme {SMPP_SYSTEM_ID}
  password {smpp_password}
  default-route
hlr
 remote-ip 127.0.0.1
 remote-port {PORTS.hlr_gsup}
"""
    )


def bsc_config(identity: NetworkIdentity, security: CellSecurity) -> str:
    timeslots = "".join(
        f"   timeslot {ts}\n    phys_chan_config {kind}\n"
        for ts, kind in enumerate(["CCCH+SDCCH4", "SDCCH8"] + ["TCH/F"] * 6)
    )
    return (
        _log("rr info", "msc info", "rsl notice", "pag info")
        + f"""ctrl
 bind 127.0.0.1
e1_input
 e1_line 0 driver ipa
 ipa bind 127.0.0.1
cs7 instance 0
 point-code {BSC_POINT_CODE}
 asp asp-bsc {STP_IPA_PORT} 0 ipa
  remote-ip 127.0.0.1
  role asp
  sctp-role client
 as as-bsc ipa
  asp asp-bsc
  routing-key 0 {BSC_POINT_CODE}
  point-code override dpc {MSC_POINT_CODE}
 sccp-address addr-msc
  routing-indicator PC
  point-code {MSC_POINT_CODE}
network
 network country code {identity.mcc}
 mobile network code {identity.mnc}
 encryption a5 {_ciphers(security)}
 neci 1
 handover 0
 timer net T4 1
 bts 0
  type osmo-bts
  band {identity.band}
  cell_identity {identity.cell_id}
  location_area_code {identity.lac}
  base_station_id_code 63
  ms max power 15
  rxlev access min 0
  radio-link-timeout 32
  channel allocator ascending
  rach tx integer 9
  rach max transmission 7
  channel-description attach 1
  channel-description bs-pa-mfrms 5
  channel-description bs-ag-blks-res 1
  ipa unit-id 1800 0
  oml ipa stream-id 255 line 0
  codec-support fr
  gprs mode none
  trx 0
   rf_locked 0
   arfcn {identity.arfcn}
   nominal power 23
   max_power_red 20
   rsl e1 tei 0
{timeslots}msc 0
 msc-addr addr-msc
 asp-protocol ipa
 mgw remote-ip 127.0.0.1
 mgw remote-port {PORTS.mgw_mgcp}
 allow-emergency deny
 codec-list fr1
"""
    )


def bts_virtual_config(identity: NetworkIdentity) -> str:
    return (
        _log("oml notice", "rsl notice", "l1p error")
        + f"""e1_input
 e1_line 0 driver ipa
 e1_line 0 port 0
 no e1_line 0 keepalive
phy 0
 virtual-um net-device lo
 instance 0
bts 0
 band {identity.band}
 ipa unit-id 1800 0
 oml remote-ip 127.0.0.1
 min-qual-rach 50
 trx 0
  phy 0 instance 0
"""
    )


def bts_trx_config(identity: NetworkIdentity, trx_address: str) -> str:
    """osmo-bts-trx for a lab with an SDR driven by osmo-trx (README: A radio test cell)."""
    return (
        _log("oml notice", "rsl notice", "l1c notice")
        + f"""e1_input
 e1_line 0 driver ipa
 e1_line 0 port 0
 no e1_line 0 keepalive
phy 0
 osmotrx ip local 127.0.0.1
 osmotrx ip remote {trx_address}
 instance 0
bts 0
 band {identity.band}
 ipa unit-id 1800 0
 oml remote-ip 127.0.0.1
 trx 0
  phy 0 instance 0
"""
    )

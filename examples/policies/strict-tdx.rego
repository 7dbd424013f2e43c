# Rego rendering of strict-tdx.toml: the two decide alike on the same claims (a test
# checks it). Embed it as `source` of a policy document's [rego] section (a TOML multi-line
# literal string), or load it with Policy::with_rego. Input: {"claims": <claims JSON>,
# "now": <Unix seconds>}.
package atls

tdx_media_type := "application/tdx-quote; version=1.0; profile=\"https://trustedcomputinggroup.org/tdx/v1\""

zero48 := "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"

measurements := {
	"tdx.mr_td": "91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7",
	"tdx.rtmr0": "44c0197b39157fdd7a4dcc44767f9d6b0bb3977c7a8e347b8492f827fe9d9e5c48aca29b220b80b6a540cf994b9bc9c0",
	"tdx.rtmr1": "0084452c01668329d4bc06acdf58a7205c26743304509973949e5619bf81a6a7aea8c323c173019b3093d54e579e9378",
	"tdx.rtmr2": "d833feef2cd945148aa38ead2c53e9b7f138190aaaebfc551dccd829fc207aa3ba80b70870d7330733642e01d48c3132",
	"tdx.rtmr3": zero48,
	"tdx.mr_config_id": zero48,
	"tdx.mr_owner": zero48,
	"tdx.mr_owner_config": zero48,
	"tdx.xfam": "e702060000000000",
	"tdx.td_attributes": "0000001000000000",
}

accepted_statuses := {"UpToDate"}

denied_advisories := {"INTEL-SA-00837", "INTEL-SA-01036"}

accepted_fmspcs := {"b0c06f000000"}

# Intel collateral is valid for 30 days after issue; its age is derived from its next update.
collateral_validity := 2592000

max_collateral_age := 1209600

claims := input.claims.values

default allow := false

allow if {
	input.claims.evidence_type == tdx_media_type
	count(deny) == 0
}

deny contains msg if {
	input.claims.evidence_type != tdx_media_type
	msg := sprintf("evidence type %v is not accepted", [input.claims.evidence_type])
}

deny contains msg if {
	some claim, expected in measurements
	lower(object.get(claims, claim, "")) != expected
	msg := sprintf("%v is %v, not the pinned %v", [claim, object.get(claims, claim, null), expected])
}

# Debug TDs: the flag, or bit 0 of TDATTRIBUTES (the low nibble of its first byte is odd);
# evidence that says neither is rejected.
deny contains "debug TD" if {
	object.get(claims, "tdx.debug", false) == true
}

deny contains "debug TD (TDATTRIBUTES bit 0)" if {
	substring(lower(object.get(claims, "tdx.td_attributes", "00")), 1, 1) in {"1", "3", "5", "7", "9", "b", "d", "f"}
}

debug_known if is_boolean(object.get(claims, "tdx.debug", null))

debug_known if count(object.get(claims, "tdx.td_attributes", "")) == 16

deny contains "the evidence does not say whether the TD is a debug TD" if {
	not debug_known
}

deny contains msg if {
	status := object.get(claims, "tdx.tcb_status", null)
	not status in accepted_statuses
	msg := sprintf("TCB status %v is not accepted", [status])
}

deny contains msg if {
	some id in object.get(claims, "tdx.advisory_ids", [])
	upper(id) in denied_advisories
	msg := sprintf("advisory %v is denied", [id])
}

deny contains msg if {
	fmspc := lower(object.get(claims, "tdx.fmspc", ""))
	not fmspc in accepted_fmspcs
	msg := sprintf("FMSPC %v is not accepted", [fmspc])
}

deny contains msg if {
	next_update := object.get(claims, "tdx.collateral_next_update", 0)
	age := input.now - (next_update - collateral_validity)
	age > max_collateral_age
	msg := sprintf("collateral about %v s old, at most %v s accepted", [age, max_collateral_age])
}

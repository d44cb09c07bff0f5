//! Decode errors as values, and their OFPT_ERROR (type, code) on the wire.
//!
//! Every decoder in this crate returns [`OfpError`] instead of panicking; the
//! error names the (type, code) pair that a switch should send back in an
//! OFPT_ERROR message (OpenFlow 1.0.0 section 5.4.4, OpenFlow 1.5.1 section
//! 7.5.4), mapped per version by [`ErrorCode::to_wire`].

use std::fmt;

/// Version-independent names for the error codes this codec produces.
///
/// Names follow the spec enums `ofp_hello_failed_code`,
/// `ofp_bad_request_code`, `ofp_bad_action_code`, `ofp_bad_instruction_code`,
/// `ofp_bad_match_code` (OpenFlow 1.5.1 section 7.5.4.x).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// OFPET_HELLO_FAILED / OFPHFC_INCOMPATIBLE: no common version.
    HelloIncompatible,
    /// OFPET_HELLO_FAILED / OFPHFC_EPERM.
    HelloEperm,
    /// OFPET_BAD_REQUEST / OFPBRC_BAD_VERSION.
    BadRequestVersion,
    /// OFPET_BAD_REQUEST / OFPBRC_BAD_TYPE: unknown message type.
    BadRequestType,
    /// OFPET_BAD_REQUEST / OFPBRC_BAD_MULTIPART (OF1.0: OFPBRC_BAD_STAT).
    BadRequestMultipart,
    /// OFPET_BAD_REQUEST / OFPBRC_BAD_EXPERIMENTER (OF1.0: BAD_VENDOR).
    BadRequestExperimenter,
    /// OFPET_BAD_REQUEST / OFPBRC_BAD_EXP_TYPE (OF1.0: BAD_SUBTYPE).
    BadRequestExpType,
    /// OFPET_BAD_REQUEST / OFPBRC_EPERM.
    BadRequestEperm,
    /// OFPET_BAD_REQUEST / OFPBRC_BAD_LEN: a length field is wrong or truncated.
    BadRequestLen,
    /// OFPET_BAD_REQUEST / OFPBRC_BAD_TABLE_ID (OF1.1+).
    BadRequestTableId,
    /// OFPET_BAD_REQUEST / OFPBRC_BAD_PORT (OF1.1+).
    BadRequestPort,
    /// OFPET_BAD_ACTION / OFPBAC_BAD_TYPE: unknown action type.
    BadActionType,
    /// OFPET_BAD_ACTION / OFPBAC_BAD_LEN.
    BadActionLen,
    /// OFPET_BAD_ACTION / OFPBAC_BAD_EXPERIMENTER (OF1.0: BAD_VENDOR).
    BadActionExperimenter,
    /// OFPET_BAD_ACTION / OFPBAC_BAD_EXP_TYPE (OF1.0: BAD_VENDOR_TYPE).
    BadActionExpType,
    /// OFPET_BAD_ACTION / OFPBAC_BAD_ARGUMENT.
    BadActionArgument,
    /// OFPET_BAD_ACTION / OFPBAC_BAD_SET_TYPE (OF1.2+).
    BadActionSetType,
    /// OFPET_BAD_ACTION / OFPBAC_BAD_SET_LEN (OF1.2+).
    BadActionSetLen,
    /// OFPET_BAD_INSTRUCTION / OFPBIC_UNKNOWN_INST.
    BadInstructionUnknown,
    /// OFPET_BAD_INSTRUCTION / OFPBIC_BAD_LEN.
    BadInstructionLen,
    /// OFPET_BAD_INSTRUCTION / OFPBIC_BAD_EXPERIMENTER.
    BadInstructionExperimenter,
    /// OFPET_BAD_MATCH / OFPBMC_BAD_TYPE: unknown match type.
    BadMatchType,
    /// OFPET_BAD_MATCH / OFPBMC_BAD_LEN.
    BadMatchLen,
    /// OFPET_BAD_MATCH / OFPBMC_BAD_FIELD: unknown or wrong-length field.
    BadMatchField,
    /// OFPET_BAD_MATCH / OFPBMC_BAD_VALUE: value has bits outside its mask.
    BadMatchValue,
    /// OFPET_BAD_MATCH / OFPBMC_BAD_MASK: a mask on an unmaskable field.
    BadMatchMask,
    /// OFPET_BAD_MATCH / OFPBMC_BAD_PREREQ: prerequisite missing.
    BadMatchPrereq,
    /// OFPET_BAD_MATCH / OFPBMC_DUP_FIELD: a field appears twice.
    BadMatchDupField,
    /// OFPET_BAD_PROPERTY / OFPBPC_BAD_LEN (OF1.4+).
    BadPropertyLen,
    /// NXFMFC_INVALID_TLV_FIELD: a flow uses a `tun_metadataN` that the TLV
    /// table does not map. A Nicira extension error (`NX1.0-1.1(1,536),
    /// NX1.2+(37)` in OVS `ofp-errors.h`), sent as a vendor/experimenter
    /// error ([`ErrorCode::nx_codes`]); [`ErrorCode::to_wire`] gives
    /// OFPBRC_EPERM for senders without that form.
    NxInvalidTlvField,
    /// Any other (type, code) pair, already in wire numbering.
    Wire {
        /// `ofp_error_type` value.
        err_type: u16,
        /// Code within that type.
        code: u16,
    },
}

impl ErrorCode {
    /// For a Nicira extension error: `(code in an OpenFlow 1.0/1.1 NX
    /// vendor error, experimenter code for OpenFlow 1.2+)`.
    pub fn nx_codes(self) -> Option<(u16, u16)> {
        match self {
            ErrorCode::NxInvalidTlvField => Some((536, 37)),
            _ => None,
        }
    }

    /// The (type, code) pair for OpenFlow wire version `version`
    /// (1 = OF1.0 ... 6 = OF1.5). OF1.0 has no BAD_INSTRUCTION/BAD_MATCH/
    /// BAD_PROPERTY types: those map to OFPET_BAD_REQUEST/OFPBRC_EPERM there
    /// (Open vSwitch uses Nicira vendor errors instead).
    pub fn to_wire(self, version: u8) -> (u16, u16) {
        use ErrorCode::*;
        let of10 = version <= 1;
        match self {
            HelloIncompatible => (0, 0),
            HelloEperm => (0, 1),
            BadRequestVersion => (1, 0),
            BadRequestType => (1, 1),
            BadRequestMultipart => (1, 2),
            BadRequestExperimenter => (1, 3),
            BadRequestExpType => (1, 4),
            BadRequestEperm => (1, 5),
            BadRequestLen => (1, 6),
            BadRequestTableId if !of10 => (1, 9),
            BadRequestPort if !of10 => (1, 11),
            BadActionType => (2, 0),
            BadActionLen => (2, 1),
            BadActionExperimenter => (2, 2),
            BadActionExpType => (2, 3),
            BadActionArgument => (2, 5),
            BadActionSetType if !of10 => (2, 13),
            BadActionSetLen if !of10 => (2, 14),
            BadInstructionUnknown if !of10 => (3, 0),
            BadInstructionLen if !of10 => (3, 7),
            BadInstructionExperimenter if !of10 => (3, 5),
            BadMatchType if !of10 => (4, 0),
            BadMatchLen if !of10 => (4, 1),
            BadMatchField if !of10 => (4, 6),
            BadMatchValue if !of10 => (4, 7),
            BadMatchMask if !of10 => (4, 8),
            BadMatchPrereq if !of10 => (4, 9),
            BadMatchDupField if !of10 => (4, 10),
            BadPropertyLen if version >= 5 => (14, 1),
            BadActionSetType | BadActionSetLen => (2, 5),
            BadPropertyLen => (1, 6),
            Wire { err_type, code } => (err_type, code),
            _ => (1, 5),
        }
    }
}

/// A decode (or validation) failure: which error to report and a short
/// human-readable reason for logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfpError {
    /// The OFPT_ERROR (type, code) to answer with.
    pub code: ErrorCode,
    /// What was wrong, for logs only.
    pub detail: &'static str,
}

impl OfpError {
    /// Builds an error value.
    pub fn new(code: ErrorCode, detail: &'static str) -> Self {
        OfpError { code, detail }
    }

    /// Re-labels a truncation/length error with a context-specific code
    /// (e.g. OFPBAC_BAD_LEN inside an action).
    pub fn relabel_len(self, code: ErrorCode) -> Self {
        if self.code == ErrorCode::BadRequestLen {
            OfpError { code, ..self }
        } else {
            self
        }
    }
}

impl fmt::Display for OfpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.code, self.detail)
    }
}

impl std::error::Error for OfpError {}

/// Shorthand for building an `Err(OfpError)`.
pub(crate) fn fail<T>(code: ErrorCode, detail: &'static str) -> Result<T, OfpError> {
    Err(OfpError::new(code, detail))
}

// olive_decoder: OliVe outlier-victim pair (OVP) decoder (combinational).
//
// OliVe (Guo et al., ISCA'23, arXiv 2304.07493 §III-IV) stores adjacent elements (2k, 2k+1) as one
// pair of BITS-bit codes. hwsim's encoder (hwsim/numerics/olive.py, its module docstring is the
// contract; `hwsim.format("olive4").encode(x).meta["packed"]`) packs a 4-bit pair as one byte with
// element 2k in the HIGH nibble, and an 8-bit pair as the two bytes [elem 2k, elem 2k+1]; this block
// reads the pair as `pair = {code(2k), code(2k+1)}` in both cases.
//
// A pair is either two normals, or one abfloat outlier plus its victim, the victim stored as the
// identifier ID = 1 << (BITS-1) (`1000` for 4 bits). The decoder needs no side information:
//   hi == ID, lo != ID : lo is an outlier, hi is its victim (value 0)
//   lo == ID, hi != ID : hi is an outlier, lo is its victim (value 0)
//   neither is ID      : two normals
// Normal codes (type units):
//   int   : BITS-bit two's complement, -(2^(BITS-1) - 1) .. 2^(BITS-1) - 1 (ID = -2^(BITS-1) unused)
//   flint : BITS = 4 only; sign-magnitude, 3-bit flint magnitude 000..111 -> 0,1,2,3,16,8,4,6
//           (ANT's LZD rule, as hwsim.numerics.olive._FLINT3; `1000` = -0 is the identifier)
// Outlier codes (abfloat, OliVe §III-C Eq. 5): sign | e (OUT_EXP_BITS) | m (MB = BITS-1-OUT_EXP_BITS)
//   value = (-1)^sign (2^MB + m) 2^(e + bias), bias = BIAS_INT or BIAS_FLINT by the normal type;
//   e = m = 0 is never an outlier code.
// Pairs hwsim's encoder never produces (hwsim's decode raises FormatError on them): two
// identifiers, or an identifier next to code 0 (the outlier would be e = m = 0). They set `illegal`
// and decode to two zeros.
//
// Parameters
//   BITS          code width of one element, 3..8 (olive4: 4, olive8: 8).
//   OUT_EXP_BITS  abfloat exponent width, 1..BITS-1 (olive4: 2 = E2M1, olive8: 2 = E2M5).
//   NORMALS       normal types the block decodes: 1 int only, 2 flint only, 3 both (per-tensor
//                 choice at run time by the `flint` input). Flint needs BITS = 4.
//   BIAS_INT      abfloat bias used with int normals, 0..16; must put the smallest outlier
//                 (2^MB + 1) 2^bias above the int maximum 2^(BITS-1) - 1 (hwsim's adaptive bias:
//                 the smallest such value; olive4: 2, olive8: 2). Ignored without int normals.
//   BIAS_FLINT    abfloat bias used with flint normals, 0..16; (2^MB + 1) 2^bias > 16 (hwsim: 3).
//                 Ignored without flint normals.
// hwsim.synth.params.olive_lane_params(format) derives all of them from the hwsim format.
//
// Ports
//   pair        {code(2k), code(2k+1)}, 2 BITS bits.
//   flint       1: the tensor's normals are flint, 0: int. Used only when NORMALS = 3 (hwsim's
//               meta["selector"] indexes the format's `normals`; olive_ntype() maps it to this bit).
//   sig_hi/lo   SIG_W-bit signed integers: the normal value, the outlier's (-1)^s (2^MB + m), or 0
//               (victim / illegal). SIG_W = BITS + 2 with flint normals (|flint| <= 16), else BITS.
//   sh          SH_W-bit unsigned (SH_W = max(clog2(2^OUT_EXP_BITS + max bias), OUT_EXP_BITS + 1)) exponent shift of the pair: e + bias for an outlier pair, else 0.
//               The decoded values are sig_hi << sh and sig_lo << sh (the victim's sig is 0, so
//               one shift serves the pair: the "exponent-integer pair" of OliVe §IV).
//   outlier_hi/lo  the element is an abfloat outlier.
//   illegal     the pair is one hwsim never produces (see above).
//
// Illegal parameter combinations stop elaboration (Icarus, Verilator and yosys alike) by
// instantiating a module that does not exist; its name states the rule that was broken.
// Include guard: rtl/olive_lane.v includes this file when it is read alone (yosys).
`ifndef HWSIM_OLIVE_DECODER_V
`define HWSIM_OLIVE_DECODER_V
module olive_decoder #(
    parameter integer BITS         = 4,
    parameter integer OUT_EXP_BITS = 2,
    parameter integer NORMALS      = 3,
    parameter integer BIAS_INT     = 2,
    parameter integer BIAS_FLINT   = 3
) (pair, flint, sig_hi, sig_lo, sh, outlier_hi, outlier_lo, illegal);
    localparam integer MB       = BITS - 1 - OUT_EXP_BITS;
    localparam integer HAS_INT  = (NORMALS % 2 != 0) ? 1 : 0;
    localparam integer HAS_FL   = ((NORMALS / 2) % 2 != 0) ? 1 : 0;
    localparam integer SIG_W    = (HAS_FL != 0) ? BITS + 2 : BITS;
    localparam integer EMAX     = (1 << OUT_EXP_BITS) - 1;
    localparam integer BIAS_MAX = (HAS_FL != 0 && (HAS_INT == 0 || BIAS_FLINT > BIAS_INT)) ? BIAS_FLINT : BIAS_INT;
    localparam integer SH_MAX   = EMAX + BIAS_MAX;
    localparam integer SH_C     = $clog2(SH_MAX + 1);
    localparam integer SH_W     = SH_C > OUT_EXP_BITS ? SH_C : OUT_EXP_BITS + 1;

    input  wire [2*BITS-1:0]       pair;
    input  wire                    flint;
    output wire signed [SIG_W-1:0] sig_hi;
    output wire signed [SIG_W-1:0] sig_lo;
    output wire [SH_W-1:0]         sh;
    output wire                    outlier_hi;
    output wire                    outlier_lo;
    output wire                    illegal;

    // --- elaboration-time parameter checks ----------------------------------------------------
    generate
        if (BITS < 3 || BITS > 8) begin : g_bad_bits
            olive_decoder_ILLEGAL_BITS_not_in_3_to_8 illegal_parameters ();
        end
        if (OUT_EXP_BITS < 1 || OUT_EXP_BITS > BITS - 1) begin : g_bad_exp
            olive_decoder_ILLEGAL_OUT_EXP_BITS_not_in_1_to_BITS_minus_1 illegal_parameters ();
        end
        if (NORMALS < 1 || NORMALS > 3) begin : g_bad_normals
            olive_decoder_ILLEGAL_NORMALS_not_1_int_2_flint_or_3_both illegal_parameters ();
        end
        if (HAS_FL != 0 && BITS != 4) begin : g_bad_flint
            olive_decoder_ILLEGAL_flint_normals_need_BITS_4 illegal_parameters ();
        end
        if (BIAS_INT < 0 || BIAS_INT > 16 || BIAS_FLINT < 0 || BIAS_FLINT > 16) begin : g_bad_bias_range
            olive_decoder_ILLEGAL_BIAS_not_in_0_to_16 illegal_parameters ();
        end
        if (HAS_INT != 0 && MB >= 0 && ((1 << MB) + 1) * (1 << BIAS_INT) <= (1 << (BITS - 1)) - 1) begin : g_bad_bias_int
            olive_decoder_ILLEGAL_BIAS_INT_outliers_overlap_the_int_normals illegal_parameters ();
        end
        if (HAS_FL != 0 && MB >= 0 && ((1 << MB) + 1) * (1 << BIAS_FLINT) <= 16) begin : g_bad_bias_flint
            olive_decoder_ILLEGAL_BIAS_FLINT_outliers_overlap_the_flint_normals illegal_parameters ();
        end
    endgenerate

    localparam [BITS-1:0] ID = 1 << (BITS - 1);

    wire [BITS-1:0] hi = pair[2*BITS-1:BITS];
    wire [BITS-1:0] lo = pair[BITS-1:0];
    wire hi_id = (hi == ID);
    wire lo_id = (lo == ID);
    assign outlier_hi = lo_id & ~hi_id;
    assign outlier_lo = hi_id & ~lo_id;
    wire [BITS-1:0] oc = outlier_hi ? hi : lo;  // the outlier's code (when there is one)
    assign illegal = (hi_id & lo_id) | ((outlier_hi | outlier_lo) & ~(|oc[BITS-2:0]));

    // per-tensor normal type: 1 = flint
    wire use_flint = (NORMALS == 2) ? 1'b1 : (NORMALS == 3) ? flint : 1'b0;

    // --- abfloat outlier: (-1)^s (2^MB + m), shift e + bias -------------------------------------
    wire [OUT_EXP_BITS-1:0] oe = oc[BITS-2:MB];
    wire [MB:0] omag;  // 2^MB + m, MB + 1 bits
    generate
        if (MB > 0) begin : g_man
            assign omag = {1'b1, oc[MB-1:0]};
        end else begin : g_noman
            assign omag = 1'b1;
        end
    endgenerate
    wire [SIG_W-1:0] omag_w = {{(SIG_W-MB-1){1'b0}}, omag};
    wire signed [SIG_W-1:0] osig = oc[BITS-1] ? -omag_w : omag_w;
    localparam [SH_W-1:0] B_INT = BIAS_INT[SH_W-1:0];
    localparam [SH_W-1:0] B_FL  = BIAS_FLINT[SH_W-1:0];
    wire [SH_W-1:0] oe_w = {{(SH_W-OUT_EXP_BITS){1'b0}}, oe};
    wire [SH_W-1:0] osh = oe_w + (use_flint ? B_FL : B_INT);

    // --- normals ------------------------------------------------------------------------------
    // in BITS + 2 bits (wide enough for flint's +-16), then cut to SIG_W
    function [BITS+1:0] normal_w;
        input [BITS-1:0] c;
        input            fl;
        reg   [4:0]      m5;
        reg   [BITS+5:0] mw;
        begin
            if (HAS_FL != 0 && fl) begin
                case (c[2:0])
                    3'd0: m5 = 5'd0;
                    3'd1: m5 = 5'd1;
                    3'd2: m5 = 5'd2;
                    3'd3: m5 = 5'd3;
                    3'd4: m5 = 5'd16;
                    3'd5: m5 = 5'd8;
                    3'd6: m5 = 5'd4;
                    default: m5 = 5'd6;
                endcase
                mw = {{(BITS+1){1'b0}}, m5};
                normal_w = c[BITS-1] ? -mw[BITS+1:0] : mw[BITS+1:0];
            end else begin
                normal_w = {{3{c[BITS-1]}}, c[BITS-2:0]};  // sign-extended two's complement
            end
        end
    endfunction
    wire [BITS+1:0] n_hi = normal_w(hi, use_flint);
    wire [BITS+1:0] n_lo = normal_w(lo, use_flint);

    wire pass = ~illegal;
    assign sig_hi = !pass ? {SIG_W{1'b0}} : outlier_hi ? osig : outlier_lo ? {SIG_W{1'b0}} : n_hi[SIG_W-1:0];
    assign sig_lo = !pass ? {SIG_W{1'b0}} : outlier_lo ? osig : outlier_hi ? {SIG_W{1'b0}} : n_lo[SIG_W-1:0];
    assign sh = (pass & (outlier_hi | outlier_lo)) ? osh : {SH_W{1'b0}};
endmodule
`endif

// mx_dot: block dot product of two scaled blocks, exact accumulation, one rounding to FP32
// (combinational: inputs to FP32 bits in one evaluation, no clock, no registers).
//
// One generic unit for every block-scaled format hwsim's block_dot defines (hwsim.numerics.dot,
// docs/numerics.md "Block dot product"; OCP MX v1.0 §6.1 Dot with exact internal precision):
//   Dot(A, B) = X(A) X(B) sum_{i<K} P_i(A) P_i(B)
//   MXFP8/6/4   ELEM_KIND 0 (minifloat lanes of rtl/fp_mul.v), SCALE_KIND 0 (E8M0), K = 32
//   MXINT8      ELEM_KIND 1, INT_ENCODING 0 (two's complement), INT_BITS 8, INT_FRAC 6, SCALE_KIND 0
//   MSFP / BFP  ELEM_KIND 1, INT_ENCODING 1 (sign-magnitude), shared 8-bit exponent = E8M0 scale,
//               K = 16 (msfp12, msfp16) or 32 (bfp12_b32)
//   NVFP4       ELEM_KIND 0 (E2M1), SCALE_KIND 1 (E4M3 block scales), K = 16; the FP32 tensor
//               scale is applied outside this unit.
// Datapath: K lane multipliers -> each product shifted by its exponent into a two's-complement
// term of LW bits (LW = 2 MAN_BITS + 2 + 2 (2^EXP_BITS - 1) - 2 + 1 for minifloats, 2 INT_BITS for
// integers: every product is exact) -> rtl/adder_tree.v (W + clog2(K) bits: the sum is exact)
// -> magnitude times the two block-scale significands (E4M3 scales only) -> rtl/fp32_round.v
// (one round-to-nearest-even to FP32, subnormals, overflow to Inf). The block-scale exponents and
// the element biases only move the binary point (lsb_exp); no bit is ever shifted out before the
// final rounding.
// Specials (OCP MX v1.0 §5.2, OCP OFP8 v1.0 §4; exactly block_dot's rules): a NaN scale (E8M0
// 0xFF, E4M3 S.1111.111) -> NaN; a NaN element in either block -> NaN (even times zero); Inf times
// a zero element or a zero scale (E4M3 0x00/0x80) -> NaN; +Inf and -Inf products in one block ->
// NaN; otherwise an Inf product -> +-Inf (the sign includes the E4M3 scale signs). NaN results are
// the canonical 0x7FC00000; an exact zero sum is +0.
//
// Parameters
//   K             elements per block, 1..1024.
//   ELEM_KIND     0 minifloat elements (EXP_BITS, MAN_BITS, SPECIALS, EXP_BIAS), 1 integer elements
//                 (INT_BITS, INT_ENCODING, INT_FRAC).
//   EXP_BITS      minifloat exponent field width, 1..6 (rtl/fp_mul.v's rules; at most 6 keeps the
//                 aligned product under 2 * 63 + 2 MAN_BITS + 2 bits).
//   MAN_BITS      minifloat mantissa field width, 1..10.
//   SPECIALS      minifloat specials: 0 ieee, 1 fn, 3 finite (hwsim.numerics.types.SPECIALS_* codes).
//   EXP_BIAS      minifloat exponent bias, 0..63 (the element's bias: 1 E2M1/E2M3, 3 E3M2, 7 E4M3,
//                 15 E5M2).
//   INT_BITS      integer code width, 2..16.
//   INT_ENCODING  0 two's complement (MXINT8), 1 sign-magnitude (MSFP / BFP mantissas).
//   INT_FRAC      integer element's fraction bits, 0..32: code k is the value k 2^-INT_FRAC.
//   SCALE_KIND    0 E8M0 block scales (2^(s-127), 0xFF NaN; OCP MX §5.4.1), 1 E4M3 block scales
//                 (OFP8 E4M3 fn values, bias 7, sign honoured, 0x00/0x80 zero, S.1111.111 NaN).
// (Parameters of the kind not selected by ELEM_KIND are ignored.)
//
// Ports
//   a, b    the two blocks: K element codes each, element i at bits [i*W +: W], W = 1 + EXP_BITS +
//           MAN_BITS (minifloat) or INT_BITS (integer).
//   sa, sb  their block-scale codes (8 bits).
//   y       FP32 bits of the dot product.
//
// Illegal parameter combinations stop elaboration (Icarus, Verilator and yosys alike) by
// instantiating a module that does not exist; its name states the rule that was broken.
module mx_dot #(
    parameter integer K            = 32,
    parameter integer ELEM_KIND    = 0,
    parameter integer EXP_BITS     = 4,
    parameter integer MAN_BITS     = 3,
    parameter integer SPECIALS     = 1,
    parameter integer EXP_BIAS     = 7,
    parameter integer INT_BITS     = 8,
    parameter integer INT_ENCODING = 0,
    parameter integer INT_FRAC     = 6,
    parameter integer SCALE_KIND   = 0
) (
    input  wire [K*((ELEM_KIND == 0) ? (1 + EXP_BITS + MAN_BITS) : INT_BITS)-1:0] a,
    input  wire [K*((ELEM_KIND == 0) ? (1 + EXP_BITS + MAN_BITS) : INT_BITS)-1:0] b,
    input  wire [7:0]  sa,
    input  wire [7:0]  sb,
    output wire [31:0] y
);
    // --- elaboration-time parameter checks ----------------------------------------------------
    generate
        if (K < 1 || K > 1024) begin : g_bad_k
            mx_dot_ILLEGAL_K_not_in_1_to_1024 illegal_parameters ();
        end
        if (ELEM_KIND != 0 && ELEM_KIND != 1) begin : g_bad_kind
            mx_dot_ILLEGAL_ELEM_KIND_not_0_minifloat_or_1_integer illegal_parameters ();
        end
        if (SCALE_KIND != 0 && SCALE_KIND != 1) begin : g_bad_scale
            mx_dot_ILLEGAL_SCALE_KIND_not_0_E8M0_or_1_E4M3 illegal_parameters ();
        end
        if (ELEM_KIND == 0 && (EXP_BITS < 1 || EXP_BITS > 6)) begin : g_bad_exp
            mx_dot_ILLEGAL_EXP_BITS_not_in_1_to_6 illegal_parameters ();
        end
        if (ELEM_KIND == 0 && (EXP_BIAS < 0 || EXP_BIAS > 63)) begin : g_bad_bias
            mx_dot_ILLEGAL_EXP_BIAS_not_in_0_to_63 illegal_parameters ();
        end
        if (ELEM_KIND == 1 && (INT_FRAC < 0 || INT_FRAC > 32)) begin : g_bad_frac
            mx_dot_ILLEGAL_INT_FRAC_not_in_0_to_32 illegal_parameters ();
        end
    endgenerate

    localparam integer W      = (ELEM_KIND == 0) ? (1 + EXP_BITS + MAN_BITS) : INT_BITS;
    localparam integer SHMAX  = 2 * ((1 << EXP_BITS) - 1) - 2;          // largest p_exp - 2
    localparam integer LW     = (ELEM_KIND == 0) ? (2 * MAN_BITS + 2 + SHMAX + 1) : 2 * INT_BITS;
    localparam integer AW     = LW + $clog2(K);                          // exact sum width
    localparam integer SSW    = (SCALE_KIND == 1) ? 4 : 1;               // scale significand width
    localparam integer MW     = (SCALE_KIND == 1) ? AW + 2 * SSW : AW;   // magnitude into the rounder
    localparam integer EW     = 12;                                      // exponent arithmetic
    // exponent of the accumulator's bit 0 before the block scales
    localparam integer LSB_EXP = (ELEM_KIND == 0) ? (2 - 2 * EXP_BIAS - 2 * MAN_BITS) : (-2 * INT_FRAC);

    // --- lanes: K exact products as LW-bit two's-complement terms ---------------------------
    wire [K*LW-1:0] terms;
    wire [K-1:0]    lane_nan, lane_inf, lane_sign;
    genvar i;
    generate
        for (i = 0; i < K; i = i + 1) begin : g_lane
            if (ELEM_KIND == 0) begin : g_fp
                wire                  p_sign, p_nan, p_inf;
                wire [EXP_BITS:0]     p_exp;
                wire [2*MAN_BITS+1:0] p_sig;
                fp_mul #(.EXP_BITS(EXP_BITS), .MAN_BITS(MAN_BITS), .SPECIALS(SPECIALS)) u_mul (
                    .a(a[i*W +: W]), .b(b[i*W +: W]),
                    .p_sign(p_sign), .p_exp(p_exp), .p_sig(p_sig), .p_nan(p_nan), .p_inf(p_inf));
                wire [LW-1:0] sig_ext = {{(LW - 2 * MAN_BITS - 2){1'b0}}, p_sig};
                localparam [EXP_BITS:0] TWO = 2;
                wire [LW-1:0] mag = sig_ext << (p_exp - TWO);     // aligned: bit 0 = 2^LSB_EXP
                assign terms[i*LW +: LW] = p_sign ? (~mag + 1'b1) : mag;
                assign lane_nan[i]  = p_nan;
                assign lane_inf[i]  = p_inf;
                assign lane_sign[i] = p_sign;
            end else begin : g_int
                int_mul #(.BITS(INT_BITS), .ENCODING(INT_ENCODING)) u_mul (
                    .a(a[i*W +: W]), .b(b[i*W +: W]), .p(terms[i*LW +: LW]));
                assign lane_nan[i]  = 1'b0;
                assign lane_inf[i]  = 1'b0;
                assign lane_sign[i] = 1'b0;
            end
        end
    endgenerate

    // --- exact sum ------------------------------------------------------------------------------
    wire signed [AW-1:0] acc;
    adder_tree #(.N(K), .W(LW)) u_tree (.x(terms), .s(acc));
    wire          neg    = acc[AW-1];
    wire [AW-1:0] absacc = neg ? (~acc + 1'b1) : acc;

    // --- block scales -----------------------------------------------------------------------------
    wire                 nan_a, nan_b, zero_a, zero_b, sflip;
    wire signed [EW-1:0] sexp_a, sexp_b;
    wire [MW-1:0]        mag;
    generate
        if (SCALE_KIND == 0) begin : g_e8m0
            assign nan_a  = (sa == 8'hFF);
            assign nan_b  = (sb == 8'hFF);
            assign zero_a = 1'b0;
            assign zero_b = 1'b0;
            assign sflip  = 1'b0;
            assign sexp_a = $signed({{(EW-8){1'b0}}, sa}) - 127;
            assign sexp_b = $signed({{(EW-8){1'b0}}, sb}) - 127;
            assign mag    = absacc;
        end else begin : g_e4m3
            wire [3:0] ea = sa[6:3];
            wire [3:0] eb = sb[6:3];
            wire [3:0] siga = {|ea, sa[2:0]};
            wire [3:0] sigb = {|eb, sb[2:0]};
            assign nan_a  = &sa[6:0];
            assign nan_b  = &sb[6:0];
            assign zero_a = ~|sa[6:0];
            assign zero_b = ~|sb[6:0];
            assign sflip  = sa[7] ^ sb[7];
            // value sig * 2^(max(e,1) - 7 - 3)
            assign sexp_a = $signed({{(EW-4){1'b0}}, (|ea) ? ea : 4'd1}) - 10;
            assign sexp_b = $signed({{(EW-4){1'b0}}, (|eb) ? eb : 4'd1}) - 10;
            wire [7:0] ssig = {4'b0, siga} * {4'b0, sigb};
            assign mag = {{(MW - AW){1'b0}}, absacc} * {{(MW - 8){1'b0}}, ssig};
        end
    endgenerate

    // --- specials -------------------------------------------------------------------------------
    wire pinf = |(lane_inf & ~(lane_sign ^ {K{sflip}}));
    wire ninf = |(lane_inf &  (lane_sign ^ {K{sflip}}));
    wire nan  = nan_a | nan_b | (|lane_nan) | ((pinf | ninf) & (zero_a | zero_b)) | (pinf & ninf);

    wire signed [EW-1:0] lsb_exp0 = LSB_EXP[EW-1:0];
    wire signed [EW-1:0] lsb_exp = lsb_exp0 + sexp_a + sexp_b;

    fp32_round #(.MW(MW), .EW(EW)) u_round (
        .sign((pinf | ninf) ? ninf : (neg ^ sflip)), .mag(mag), .lsb_exp(lsb_exp),
        .nan(nan), .inf(pinf | ninf), .f(y));
endmodule

// bitserial_pe: bit-serial dot-product PE in the style of BitMoD (Chen et al., "BitMoD:
// Bit-serial Mixture-of-Datatype LLM Acceleration", HPCA 2025, §IV-B): LANES low-precision
// weights x LANES FP16 activations per cycle, each weight consumed one signed power-of-two term
// per cycle, partial products shift-added exactly, one INT8 group scale applied per group.
//
// Weights (4-bit codes, as hwsim.format("bitmod4").encode produces them):
//   wmode 0  BitMoD FP4 types (§III-B, Table IV), the per-group 2-bit selector `sel` naming the
//            type (hwsim order: 0 FP4-ER +5, 1 FP4-ER -5, 2 FP4-EA +8, 3 FP4-EA -8). Code = sign
//            bit + 3-bit index into {0, 0.5, 1, 1.5, 2, 3, 4, 6}; the -0 code (8) is the type's
//            special value (+-5 or +-8). Every value is sign-magnitude fixed point I3..I0.F0 with
//            at most two one-bits, found by two leading-one detectors (§IV-B): 2 terms.
//   wmode 1  INT4 two's complement, radix-4 Booth digits d0 = -2 b1 + b0, d1 = -2 b3 + b2 + b1
//            (value d0 + 4 d1; BitMoD §IV-A): 2 terms. `sel` is ignored.
// So every weight takes TERMS = 2 cycles, whatever the code: a group of G weights on LANES lanes
// takes ceil(G / LANES) * 2 cycles, hwsim.arch.bitserial.group_cycles(G, LANES, 2) with
// 2 = hwsim.arch.bitserial.weight_cycles(hwsim.format("bitmod4")) (lod2) = that of int4 (booth).
//
// Activations: FP16 (IEEE 754 binary16), taken exactly as the integer a_int = sig << (max(e,1) - 1)
// in units of 2^-24 (sig with its hidden bit); an Inf/NaN activation sets out_special and
// contributes 0 (the result is then meaningless; hwsim's checks never feed one).
//
// Arithmetic (exact, nothing rounded): a term of weight w is +-2^p in units of 1/2 (p in 0..4),
// the lane partial product is +-(a_int << p) (units 2^-25), summed over lanes and terms into the
// group accumulator (GACC_W bits); at the end of a group, dot += gacc * scale (the signed INT8
// group scale code, hwsim's meta["scale_codes"]); at the end of a dot product out = dot. So
//   out * 2^-25 = sum_groups scale_code * sum_i value(w_i) * act_i   (exactly);
// the per-channel FP32 step (meta["channel_step"]) is applied outside, once per output.
//
// Parameters
//   LANES   weights (and activations) per cycle, 1..16.
//   GACC_W  group accumulator width, 46..64: groups of up to 2^(GACC_W - 46) * 2 weights cannot
//           overflow (|a_int| < 2^40, |term| <= 16).
//   DOT_W   dot-product accumulator width, GACC_W + 9 .. 128 (wraps modulo 2^DOT_W beyond).
//
// Ports (rising edge of clk; rst synchronous, clears the counter and accumulators)
//   in_valid      a chunk of LANES weights/activations is presented (held until consumed).
//   w_code        LANES 4-bit codes, lane l at [4l +: 4]; unused lanes: code 0.
//   act           LANES FP16 activations, lane l at [16l +: 16].
//   sel, wmode    group metadata (held through the group).
//   scale         signed INT8 group scale code (held through the group).
//   grp_last      this chunk ends its group.   dot_last  this chunk ends the dot product.
//   in_ready      the presented chunk is consumed at the next edge (its last term); depends on
//                 the term counter only.
//   out_valid     out holds a finished dot product (one cycle, after the edge of its last term).
//   out           signed dot product, units 2^-25 (see above).  out_special  an Inf/NaN act.
//
// Illegal parameter combinations stop elaboration (Icarus, Verilator, yosys) by instantiating a
// module that does not exist, named after the broken rule (as rtl/fp_mul.v does).
module bitserial_pe #(
    parameter integer LANES  = 4,
    parameter integer GACC_W = 56,
    parameter integer DOT_W  = 72
) (
    input  wire                    clk,
    input  wire                    rst,
    input  wire                    in_valid,
    input  wire [LANES*4-1:0]      w_code,
    input  wire [LANES*16-1:0]     act,
    input  wire [1:0]              sel,
    input  wire                    wmode,
    input  wire signed [7:0]       scale,
    input  wire                    grp_last,
    input  wire                    dot_last,
    output wire                    in_ready,
    output reg                     out_valid,
    output reg  signed [DOT_W-1:0] out,
    output reg                     out_special
);
    generate
        if (LANES < 1 || LANES > 16) begin : g_bad_lanes
            bitserial_pe_ILLEGAL_LANES_not_in_1_to_16 illegal_parameters ();
        end
        if (GACC_W < 46 || GACC_W > 64) begin : g_bad_gacc
            bitserial_pe_ILLEGAL_GACC_W_not_in_46_to_64 illegal_parameters ();
        end
        if (DOT_W < GACC_W + 9 || DOT_W > 128) begin : g_bad_dot
            bitserial_pe_ILLEGAL_DOT_W_not_in_GACC_W_plus_9_to_128 illegal_parameters ();
        end
    endgenerate

    // TERMS = 2 terms per weight: `term` counts 0, 1

    reg                      term;      // which term of the current chunk (0, 1)
    reg signed [GACC_W-1:0]  gacc;
    reg signed [DOT_W-1:0]   dot;
    reg                      special;

    assign in_ready = term;  // term == TERMS - 1

    // ---- per lane: decode the weight into its two terms, the activation into a_int -------------
    wire [LANES*GACC_W-1:0] pp_all;   // lane l's partial product at [l*GACC_W +: GACC_W]
    wire [LANES-1:0]        sp_all;   // lane l's activation is Inf/NaN
    genvar l;
    generate
        for (l = 0; l < LANES; l = l + 1) begin : g_lane
            wire [3:0]  c  = w_code[4*l +: 4];
            wire [15:0] a  = act[16*l +: 16];
            // FP16 -> exact integer (units 2^-24)
            wire [4:0]  ae = a[14:10];
            wire [10:0] sig = {ae != 5'd0, a[9:0]};
            wire [4:0]  sh = (ae == 5'd0) ? 5'd0 : ae - 5'd1;
            wire [39:0] a_mag = {29'd0, sig} << sh;
            wire        a_inf_nan = ae == 5'd31;
            // BitMoD FP4: |value| * 2 (fixed point I3..I0.F0 as an integer) and sign
            reg  [4:0]  mag2;
            always @(*) begin
                case (c[2:0])
                    3'd0: mag2 = c[3] ? (sel[1] ? 5'd16 : 5'd10) : 5'd0;  // -0 code: special value
                    3'd1: mag2 = 5'd1;
                    3'd2: mag2 = 5'd2;
                    3'd3: mag2 = 5'd3;
                    3'd4: mag2 = 5'd4;
                    3'd5: mag2 = 5'd6;
                    3'd6: mag2 = 5'd8;
                    default: mag2 = 5'd12;
                endcase
            end
            wire        fp_neg = (c == 4'd8) ? sel[0] : c[3];
            // two leading-one detectors: the first term is the leading one, the second the
            // leading one of what is left
            wire [2:0]  p0 = mag2[4] ? 3'd4 : mag2[3] ? 3'd3 : mag2[2] ? 3'd2 : mag2[1] ? 3'd1 : 3'd0;
            wire [4:0]  rest = mag2 & ~(5'd1 << p0);
            wire [2:0]  p1 = rest[4] ? 3'd4 : rest[3] ? 3'd3 : rest[2] ? 3'd2 : rest[1] ? 3'd1 : 3'd0;
            wire        fp_z0 = mag2 == 5'd0;
            wire        fp_z1 = rest == 5'd0;
            // INT4 radix-4 Booth digits: d = -2 b(2j+1) + b(2j) + b(2j-1); |d| in {0,1,2}
            wire [2:0]  bw = term ? c[3:1] : {c[1:0], 1'b0};
            wire        b_neg = bw[2] & ~(bw[1] & bw[0]);
            wire        b_zero = (bw == 3'b000) | (bw == 3'b111);
            wire        b_two = (bw == 3'b011) | (bw == 3'b100);
            wire [2:0]  b_p = (term ? 3'd3 : 3'd1) + {2'd0, b_two};  // 2 * 4^j * |d| = 2^p
            // the term of this cycle: sign, zero, power p (units 1/2)
            wire        t_zero = wmode ? b_zero : (term ? fp_z1 : fp_z0);
            wire        t_neg = (wmode ? b_neg : fp_neg) ^ a[15];
            wire [2:0]  t_p = wmode ? b_p : (term ? p1 : p0);
            wire [GACC_W-1:0] mag = {{(GACC_W-40){1'b0}}, a_mag} << t_p;
            wire signed [GACC_W-1:0] pp = (t_zero | a_inf_nan) ? {GACC_W{1'b0}} : (t_neg ? -mag : mag);
            assign pp_all[l*GACC_W +: GACC_W] = pp;
            assign sp_all[l] = a_inf_nan;
        end
    endgenerate

    // sum of the lanes' partial products (a loop, not a chain of wires: Verilator UNOPTFLAT)
    reg signed [GACC_W-1:0] lane_sum;
    integer k;
    always @(*) begin
        lane_sum = {GACC_W{1'b0}};
        for (k = 0; k < LANES; k = k + 1)
            lane_sum = lane_sum + pp_all[k*GACC_W +: GACC_W];
    end
    wire lane_special = |sp_all;
    wire signed [GACC_W-1:0] gacc_next = gacc + lane_sum;
    // group sum x INT8 scale code: a GACC_W x 8 signed product (GACC_W + 8 bits), sign-extended
    wire signed [GACC_W+7:0] scaled = gacc_next * scale;
    wire signed [DOT_W-1:0]  dot_next = dot + {{(DOT_W-GACC_W-8){scaled[GACC_W+7]}}, scaled};
    wire                     last_term = in_valid && in_ready;

    always @(posedge clk) begin
        out_valid <= 1'b0;
        if (rst) begin
            term <= 1'b0;
            gacc <= {GACC_W{1'b0}};
            dot <= {DOT_W{1'b0}};
            special <= 1'b0;
            out_special <= 1'b0;
        end else if (in_valid) begin
            term <= ~term;
            if (!last_term) begin
                gacc <= gacc_next;
                special <= special | lane_special;
            end else if (!grp_last) begin
                gacc <= gacc_next;
                special <= special | lane_special;
            end else begin
                gacc <= {GACC_W{1'b0}};
                if (dot_last) begin
                    out <= dot_next;
                    out_special <= special | lane_special;
                    out_valid <= 1'b1;
                    dot <= {DOT_W{1'b0}};
                    special <= 1'b0;
                end else begin
                    dot <= dot_next;
                    special <= special | lane_special;
                end
            end
        end
    end
endmodule

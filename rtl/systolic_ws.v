// systolic_ws: ROWS x COLS weight-stationary systolic array of signed integer PEs (rtl/pe_int8.v)
// or MXFP8 PEs (rtl/pe_mxfp8.v, parameter PE = 1):
// O[M, N] = A[M, K] @ W[K, N] one array tile ("fold") at a time, INT8 x INT8 -> INT32 by default.
//
// Dataflow (Jouppi et al., ISCA'17 §2; SCALE-Sim, Samajdar et al., arXiv 1811.02883 §III, ws):
// the array rows span K, the columns span N, M streams through time. PE(i, j) holds W[i, j];
// activation A[t, i] enters row i at the left, moves one column right per cycle; partial sums
// move one row down per cycle and leave at the bottom of each column.
//
// Schedule of one fold (what hwsim.arch.SystolicArray(ROWS, COLS, "ws").gemm counts: ROWS cycles
// of weight load, T = M streamed vectors, ROWS - 1 cycles of input skew, COLS - 1 of output skew):
//   load    ROWS cycles with w_load = 1, w_in = weight row ROWS-1 first, row 0 last (each cycle
//           the weights shift one PE down; after ROWS cycles PE(i, j) holds row i).
//   stream  A[t, i] with a_valid[i] = 1 on row i in cycle ROWS + t + i (the caller skews the
//           input: row i is i cycles late); rows without data drive a_valid 0 and a_in 0.
//   drain   column j's partial sum for vector t, sum_i A[t, i] W[i, j], is in out[j] with
//           out_valid[j] = 1 after the edge of cycle ROWS + t + (ROWS - 1) + j (output skew: column
//           j is j cycles late); the fold's last output comes after the edge of cycle
//           2 ROWS + COLS + T - 3, so the next fold's load starts one cycle later: a fold is
//           2 ROWS + COLS + T - 2 cycles, exactly SCALE-Sim's / hwsim's per-fold count.
// Partial sums of different K folds are added outside (the ofmap accumulator / SRAM).
//
// Parameters
//   ROWS   array rows (K extent of a fold), 1..256.
//   COLS   array columns (N extent of a fold), 1..256.
//   A_W    activation width (two's complement), 2..16; 8 = INT8.
//   W_W    weight width (two's complement), 2..16; 8 = INT8.
//   ACC_W  partial-sum width, two's complement, at most 64 and at least A_W + W_W + clog2(ROWS)
//          + 1: no column sum of a fold can overflow (INT8, 32 bits: ROWS up to 2^16).
//          PE = 1: at least 39 + clog2(ROWS) (NaN bit + exact sum, see rtl/pe_mxfp8.v).
//   PE     which PE: 0 = signed integer (rtl/pe_int8.v), 1 = MXFP8 E4M3 elements
//          (rtl/pe_mxfp8.v: exact products via rtl/fp_mul.v, fixed-point partial sums with a
//          NaN bit; A_W = W_W = 8). The schedule and every cycle count are the same.
//
// Ports (rising edge of clk; no reset: drive a_valid = 0 for ROWS + COLS cycles to flush the
// valid bits before the first fold)
//   w_load            1: shift weights in (one row per cycle).
//   w_in[COLS*W_W]    weight entering column j at [j*W_W +: W_W].
//   a_in[ROWS*A_W]    activation entering row i at [i*A_W +: A_W].
//   a_valid[ROWS]     its valid bit.
//   out[COLS*ACC_W]   column j's partial sum at [j*ACC_W +: ACC_W] (bottom PE's register).
//   out_valid[COLS]   out[j] holds a partial sum of a valid vector (the valid bit of row ROWS-1).
//
// Illegal parameter combinations stop elaboration (Icarus, Verilator, yosys) by instantiating a
// module that does not exist, named after the broken rule (as rtl/fp_mul.v does).
module systolic_ws #(
    parameter integer ROWS  = 4,
    parameter integer COLS  = 4,
    parameter integer A_W   = 8,
    parameter integer W_W   = 8,
    parameter integer ACC_W = 32,
    parameter integer PE    = 0
) (
    input  wire                  clk,
    input  wire                  w_load,
    input  wire [COLS*W_W-1:0]   w_in,
    input  wire [ROWS*A_W-1:0]   a_in,
    input  wire [ROWS-1:0]       a_valid,
    output wire [COLS*ACC_W-1:0] out,
    output wire [COLS-1:0]       out_valid
);
    generate
        if (ROWS < 1 || ROWS > 256) begin : g_bad_rows
            systolic_ws_ILLEGAL_ROWS_not_in_1_to_256 illegal_parameters ();
        end
        if (COLS < 1 || COLS > 256) begin : g_bad_cols
            systolic_ws_ILLEGAL_COLS_not_in_1_to_256 illegal_parameters ();
        end
        if (PE == 0 && (ACC_W < A_W + W_W + $clog2(ROWS) + 1 || ACC_W > 64)) begin : g_bad_acc
            systolic_ws_ILLEGAL_ACC_W_below_A_W_plus_W_W_plus_clog2_ROWS_plus_1_or_above_64 illegal_parameters ();
        end
        if (PE == 1 && (ACC_W < 39 + $clog2(ROWS) || ACC_W > 64)) begin : g_bad_acc_mx
            systolic_ws_ILLEGAL_ACC_W_below_39_plus_clog2_ROWS_or_above_64_for_PE_1 illegal_parameters ();
        end
        if (PE == 1 && (A_W != 8 || W_W != 8)) begin : g_bad_mx_widths
            systolic_ws_ILLEGAL_PE_1_needs_A_W_and_W_W_8 illegal_parameters ();
        end
        if (PE != 0 && PE != 1) begin : g_bad_pe
            systolic_ws_ILLEGAL_PE_not_0_int_or_1_mxfp8 illegal_parameters ();
        end
    endgenerate

    // inter-PE wires: horizontal (activation, valid) has COLS+1 taps per row, vertical (weight,
    // partial sum) ROWS+1 taps per column
    wire [A_W-1:0]   a_h  [0:ROWS-1][0:COLS];
    wire             v_h  [0:ROWS-1][0:COLS];
    wire [W_W-1:0]   w_v  [0:ROWS][0:COLS-1];
    wire [ACC_W-1:0] p_v  [0:ROWS][0:COLS-1];

    genvar i, j;
    generate
        for (i = 0; i < ROWS; i = i + 1) begin : g_row_in
            assign a_h[i][0] = a_in[i*A_W +: A_W];
            assign v_h[i][0] = a_valid[i];
        end
        for (j = 0; j < COLS; j = j + 1) begin : g_col
            assign w_v[0][j] = w_in[j*W_W +: W_W];
            assign p_v[0][j] = {ACC_W{1'b0}};
            assign out[j*ACC_W +: ACC_W] = p_v[ROWS][j];
            assign out_valid[j] = v_h[ROWS-1][j+1];
        end
        for (i = 0; i < ROWS; i = i + 1) begin : g_r
            for (j = 0; j < COLS; j = j + 1) begin : g_c
                if (PE == 1) begin : g_mx
                    pe_mxfp8 #(.ACC_W(ACC_W)) u_pe (
                        .clk(clk), .w_load(w_load),
                        .w_in(w_v[i][j]), .w_out(w_v[i+1][j]),
                        .a_in(a_h[i][j]), .av_in(v_h[i][j]),
                        .a_out(a_h[i][j+1]), .av_out(v_h[i][j+1]),
                        .psum_in(p_v[i][j]), .psum_out(p_v[i+1][j]));
                end else begin : g_int
                    pe_int8 #(.A_W(A_W), .W_W(W_W), .ACC_W(ACC_W)) u_pe (
                        .clk(clk), .w_load(w_load),
                        .w_in(w_v[i][j]), .w_out(w_v[i+1][j]),
                        .a_in(a_h[i][j]), .av_in(v_h[i][j]),
                        .a_out(a_h[i][j+1]), .av_out(v_h[i][j+1]),
                        .psum_in(p_v[i][j]), .psum_out(p_v[i+1][j]));
                end
            end
        end
    endgenerate
endmodule

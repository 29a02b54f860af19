// systolic_ws_tb: bench-only controller around rtl/systolic_ws.v that runs one fold (array tile)
// after another with the schedule documented there, so that cocotb exchanges one descriptor per
// fold instead of driving every cycle.
//
// A fold descriptor is the fold's weights (ROWS x COLS, W[i][j] at ((i*COLS + j) * 8)), its
// activations (T x ROWS, A[t][i] at ((t*ROWS + i) * 8), T <= MAX_T) and T. The bench writes the next
// descriptor to pend_* and bumps pend_seq; the controller takes it (taken_seq <= pend_seq) when the
// array is idle or in the cycle after the current fold's last output, so folds run back to back:
//   load    ROWS cycles, w_load = 1, weight row ROWS-1 first;
//   stream  row i gets A[t][i] in stream cycle t + i (skew), a_valid[i] = 1;
//   drain   the controller waits until every column has delivered T outputs (out_valid), the
//           fold is done in that cycle, and the next fold's load starts in the next one.
// Results of the finished fold: res_out (T x COLS partial sums, [(t*COLS + j) * ACC_W]), res_start
// (edge index of its first load cycle), res_end (edge index of its last output), res_late (outputs
// that arrived off the documented skew, edge start + 2 ROWS - 1 + t + j); done_seq increments.
// Edges of clk are counted from the first edge after rst falls (index 0).
//
// Parameters: ROWS, COLS, ACC_W, PE as in systolic_ws (8-bit operand codes); MAX_T >= 1 vectors
// per fold.
// Test-only knobs to show that the bench catches broken schedules (0 in the real bench):
//   BREAK_SKEW  1: rows i >= 1 get their activation one cycle late (skew off by one).
//   BREAK_DRAIN 1: the next fold starts one cycle after the drain completes (drain count + 1).
/* verilator lint_off WIDTH */ /* verilator lint_off UNSIGNED */  // bench-only: integer/counter width mixing is intended
module systolic_ws_tb #(
    parameter integer ROWS  = 4,
    parameter integer COLS  = 4,
    parameter integer ACC_W = 32,
    parameter integer PE = 0,
    parameter integer MAX_T = 32,
    parameter integer BREAK_SKEW = 0,
    parameter integer BREAK_DRAIN = 0
) (
    input  wire                        clk,
    input  wire                        rst,
    input  wire [ROWS*COLS*8-1:0]      pend_w,
    input  wire [MAX_T*ROWS*8-1:0]     pend_a,
    input  wire [15:0]                 pend_t,
    input  wire [15:0]                 pend_seq,
    output reg  [15:0]                 taken_seq,
    output reg  [15:0]                 done_seq,
    output reg  [MAX_T*COLS*ACC_W-1:0] res_out,
    output reg  [31:0]                 res_start,
    output reg  [31:0]                 res_end,
    output reg  [31:0]                 res_late
);
    localparam integer S_IDLE = 0, S_LOAD = 1, S_STREAM = 2, S_GAP = 3;

    reg  [1:0]                 state;
    reg  [31:0]                cyc;        // after edge e: e + 1
    reg  [ROWS*COLS*8-1:0]     cur_w;
    reg  [MAX_T*ROWS*8-1:0]    cur_a;
    reg  [15:0]                cur_t;
    reg  [31:0]                cur_start;
    reg  [15:0]                cnt;        // load row / stream cycle counter
    reg  [15:0]                got [0:COLS-1];
    reg  [31:0]                late;

    wire                  w_load;
    wire [COLS*8-1:0]     w_in;
    wire [ROWS*8-1:0]     a_in;
    wire [ROWS-1:0]       a_valid;
    wire [COLS*ACC_W-1:0] out;
    wire [COLS-1:0]       out_valid;

    systolic_ws #(.ROWS(ROWS), .COLS(COLS), .A_W(8), .W_W(8), .ACC_W(ACC_W), .PE(PE)) dut (
        .clk(clk), .w_load(w_load), .w_in(w_in), .a_in(a_in), .a_valid(a_valid),
        .out(out), .out_valid(out_valid));

    // the fold completes in this cycle: every column has its T outputs with the ones now valid
    reg complete;
    integer jj;
    always @(*) begin
        complete = (state == S_STREAM);
        for (jj = 0; jj < COLS; jj = jj + 1)
            if (got[jj] + {15'd0, out_valid[jj]} < cur_t) complete = 1'b0;
    end
    wire has_pend = pend_seq != taken_seq;
    wire take = has_pend && (state == S_IDLE || (BREAK_DRAIN == 0 ? complete : state == S_GAP));

    // weights: the first load cycle reads the pending descriptor, later ones the taken copy
    wire [ROWS*COLS*8-1:0] w_src = take ? pend_w : cur_w;
    wire [15:0] w_row = take ? ROWS - 1 : ROWS - 1 - cnt;
    assign w_load = take || state == S_LOAD;
    assign w_in = w_load ? w_src[w_row * COLS * 8 +: COLS * 8] : {COLS*8{1'b0}};

    genvar i;
    generate
        for (i = 0; i < ROWS; i = i + 1) begin : g_row
            wire [15:0] delay = (BREAK_SKEW != 0 && i > 0) ? i + 1 : i;
            wire        on = state == S_STREAM && cnt >= delay && cnt - delay < cur_t;
            wire [15:0] t = cnt - delay;
            assign a_valid[i] = on;
            assign a_in[i*8 +: 8] = on ? cur_a[(t * ROWS + i) * 8 +: 8] : 8'd0;
        end
    endgenerate

    integer j;
    always @(posedge clk) begin
        if (rst) begin
            state <= S_IDLE;
            cyc <= 0;
            taken_seq <= 0;
            done_seq <= 0;
            late <= 0;
            cnt <= 0;
            res_out <= 0;
        end else begin
            cyc <= cyc + 1;
            // capture this cycle's outputs
            if (state == S_STREAM) begin
                for (j = 0; j < COLS; j = j + 1)
                    if (out_valid[j] && got[j] < cur_t) begin
                        res_out[(got[j] * COLS + j) * ACC_W +: ACC_W] <= out[j*ACC_W +: ACC_W];
                        got[j] <= got[j] + 1;
                        if (cyc - 1 != cur_start + 2 * ROWS - 1 + got[j] + j) late <= late + 1;
                    end
                cnt <= cnt + 1;
            end
            if (complete) begin
                res_start <= cur_start;
                res_end <= cyc - 1;
                res_late <= late;
                done_seq <= done_seq + 1;
                state <= S_GAP;
            end
            if (state == S_GAP && !take) state <= S_IDLE;
            if (state == S_LOAD) begin
                if (cnt == ROWS - 1) begin
                    state <= S_STREAM;
                    cnt <= 0;
                end else cnt <= cnt + 1;
            end
            if (take) begin
                cur_w <= pend_w;
                cur_a <= pend_a;
                cur_t <= pend_t;
                cur_start <= cyc;
                taken_seq <= pend_seq;
                late <= 0;
                for (j = 0; j < COLS; j = j + 1) got[j] <= 0;
                if (ROWS == 1) begin
                    state <= S_STREAM;
                    cnt <= 0;
                end else begin
                    state <= S_LOAD;
                    cnt <= 1;
                end
            end
        end
    end
endmodule
/* verilator lint_on WIDTH */

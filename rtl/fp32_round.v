// fp32_round: normalize an exact signed fixed-point value and round it once to FP32 (combinational).
//
// Input value (-1)^sign * mag * 2^lsb_exp, mag an unsigned integer of MW bits, is rounded to
// IEEE 754 binary32 with round-to-nearest, ties-to-even (IEEE 754-2019 §4.3.1): gradual underflow to
// subnormals (quantum 2^-149 below 2^-126) and overflow to +-Inf when the rounded magnitude reaches
// 2^128 (§7.4). mag = 0 gives +0 (an exact zero sum has no sign).
// Method: d = max(msb(mag) - 23, -149 - lsb_exp) low bits are dropped (d <= 0: the value is exact
// and shifted left); the 24-bit significand is rounded up when the guard bit (bit d-1) is set and
// the sticky bit (OR of bits below d-1) or the significand's LSB is set. The result bits are
// ((lsb_exp + d + 149) << 23) + significand, so a rounding carry moves into the exponent field
// and a subnormal that rounds up to 2^-126 becomes the smallest normal on its own.
//
// Parameters
//   MW  width of mag, 1..512.
//   EW  width of lsb_exp (two's complement), 2..16; the caller keeps lsb_exp + MW inside it.
//
// Ports
//   sign     sign of a finite result (ignored when mag = 0), and of the Inf when inf = 1.
//   mag      magnitude, MW bits.
//   lsb_exp  signed exponent of mag's bit 0.
//   nan      the result is NaN: canonical quiet NaN 0x7FC00000 (takes precedence over inf).
//   inf      the result is (-1)^sign Inf.
//   f        the FP32 bits.
//
// Illegal parameters stop elaboration (Icarus, Verilator, yosys) by instantiating a module that
// does not exist; its name states the rule that was broken.
module fp32_round #(
    parameter integer MW = 64,
    parameter integer EW = 12
) (
    input  wire                 sign,
    input  wire [MW-1:0]        mag,
    input  wire signed [EW-1:0] lsb_exp,
    input  wire                 nan,
    input  wire                 inf,
    output wire [31:0]          f
);
    generate
        if (MW < 1 || MW > 512) begin : g_bad_mw
            fp32_round_ILLEGAL_MW_not_in_1_to_512 illegal_parameters ();
        end
        if (EW < 2 || EW > 16) begin : g_bad_ew
            fp32_round_ILLEGAL_EW_not_in_2_to_16 illegal_parameters ();
        end
    endgenerate

    localparam integer IW = 20;  // internal signed exponent arithmetic: |values| < 2^19
    localparam integer PW = (MW < 25) ? 25 : MW;   // mag zero-extended to at least 25 bits
    localparam integer SW = $clog2(PW + 2) + 1;      // shift amounts 0 .. PW + 1
    wire [PW-1:0] pmag;
    generate
        if (PW > MW) begin : g_pad
            assign pmag = {{(PW - MW){1'b0}}, mag};
        end else begin : g_nopad
            assign pmag = mag;
        end
    endgenerate

    // position of the leading one (0 when mag = 0)
    reg [IW-1:0] msb;
    integer i;
    always @* begin
        msb = 0;
        for (i = 0; i < MW; i = i + 1)
            if (mag[i]) msb = i[IW-1:0];
    end

    wire signed [IW-1:0] e_lsb  = {{(IW - EW){lsb_exp[EW-1]}}, lsb_exp};  // sign extension
    wire signed [IW-1:0] d_norm = $signed(msb) - 23;
    wire signed [IW-1:0] d_sub  = -149 - e_lsb;
    wire signed [IW-1:0] d      = (d_norm > d_sub) ? d_norm : d_sub;

    // d > 0: drop d bits (at most PW + 1 matter: beyond that everything is below half a quantum)
    localparam integer DMAX = PW + 1;
    wire signed [IW-1:0] dmax = DMAX[IW-1:0];
    wire [SW-1:0] d_r = (d > dmax) ? dmax[SW-1:0] : d[SW-1:0];
    wire [2*PW:0] ext = {pmag, {(PW + 1){1'b0}}} >> d_r;
    // d <= 0: exact, shift left by -d <= 23 (d >= msb - 23 >= -23)
    wire signed [IW-1:0] nd = -d;
    wire [4:0]    d_l = nd[4:0];
    wire [PW+23:0] left = {{24{1'b0}}, pmag} << d_l;

    wire          right = d > 0;
    wire [24:0]   sig = right ? {1'b0, ext[PW+24:PW+1]} : {1'b0, left[23:0]};
    wire          guard  = right & ext[PW];
    wire          sticky = right & (|ext[PW-1:0]);
    wire          up = guard & (sticky | sig[0]);
    wire [24:0]   sig_r = sig + up;

    // exponent field before the hidden bit is added: lsb_exp + d + 149 (>= 0 by the choice of d)
    wire signed [IW-1:0] field = e_lsb + d + 149;
    wire [IW+22:0]       bits  = {field, 23'b0} + {{(IW - 2){1'b0}}, sig_r};
    wire                 ovf   = bits >= {{(IW - 9){1'b0}}, 32'h7F80_0000};

    assign f = nan         ? 32'h7FC0_0000 :
               inf         ? {sign, 31'h7F80_0000} :
               (mag == 0)  ? 32'h0000_0000 :
               ovf         ? {sign, 31'h7F80_0000} :
                             {sign, bits[30:0]};
endmodule

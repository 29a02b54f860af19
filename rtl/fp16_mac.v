// fp16_mac: FP16 x FP16 multiply with FP32 accumulation (clocked MAC lane).
//
// The FP16 PE baseline of issue 12's comparisons (BitMoD HPCA'25 compares its PE with an FP16 PE).
// Arithmetic (IEEE 754-2019 binary16 operands §3.6, binary32 accumulator, roundTiesToEven §4.3.1):
//   1. The product of two binary16 numbers is computed EXACTLY and is always exactly representable
//      as a normal binary32 number: 11 x 11 = at most 22 significand bits, magnitudes
//      2^-48 .. (65504)^2 < 2^32, inside binary32's normal range. So "FP16 multiply into FP32"
//      involves no rounding (and no underflow/overflow): the product path is exact.
//   2. acc <= RNE_binary32(acc + product): one correctly rounded binary32 addition per cycle
//      (what numpy's float32 `acc + np.float32(a) * np.float32(b)` computes).
// Specials as IEEE: NaN operand or Inf x 0 -> NaN; Inf x finite nonzero -> Inf with the xor sign;
// Inf + -Inf -> NaN; NaN stays NaN (the canonical quiet NaN 0x7FC00000 is produced; payloads are
// not propagated); binary32 overflow rounds to Inf (RNE); exact zero sums are +0 except -0 + -0.
// binary16 subnormal operands are exact inputs (hidden bit 0, exponent 1 - 15). The adder handles
// binary32 subnormals in general, although sums of products (multiples of 2^-48) never reach them.
// No parameters: the lane is binary16 x binary16 -> binary32 only.
//
// Ports
//   clk     rising-edge clock.
//   en      accumulate this cycle's product.
//   clr     start a new dot product: the accumulator restarts from +0 (acc <= +0 + product when
//           en: the product itself, except that a -0 product gives +0 as IEEE addition does).
//   a, b    binary16 operand codes.
//   acc     binary32 accumulator code (registered).
module fp16_mac (
    input  wire        clk,
    input  wire        en,
    input  wire        clr,
    input  wire [15:0] a,
    input  wire [15:0] b,
    output reg  [31:0] acc
);
    // --- exact binary16 product as binary32 ---------------------------------------------------
    wire       sa = a[15];
    wire       sb = b[15];
    wire [4:0] ea = a[14:10];
    wire [4:0] eb = b[14:10];
    wire [9:0] ma = a[9:0];
    wire [9:0] mb = b[9:0];
    wire a_nan  = (&ea) & (|ma);
    wire b_nan  = (&eb) & (|mb);
    wire a_inf  = (&ea) & ~(|ma);
    wire b_inf  = (&eb) & ~(|mb);
    wire a_zero = ~(|ea) & ~(|ma);
    wire b_zero = ~(|eb) & ~(|mb);
    wire [10:0] siga = {|ea, ma};
    wire [10:0] sigb = {|eb, mb};
    wire [5:0]  eea  = {1'b0, (|ea) ? ea : 5'd1};
    wire [5:0]  eeb  = {1'b0, (|eb) ? eb : 5'd1};
    wire [21:0] psig = siga * sigb;             // value psig * 2^(eea + eeb - 50)
    wire [5:0]  pe   = eea + eeb;

    reg  [4:0]  plz;                            // leading zeros of psig (22 bits)
    integer i;
    always @* begin
        plz = 5'd21;
        for (i = 0; i < 22; i = i + 1)
            if (psig[i]) plz = 5'd21 - i[4:0];
    end
    wire [21:0] pnorm = psig << plz;            // pnorm[21] = 1 for a nonzero product
    // binary32 exponent field: (pe - 50 + (21 - plz)) + 127 = pe + 98 - plz, 79 .. 158
    wire [7:0]  pexp  = {2'b00, pe} + 8'd98 - {3'b000, plz};
    wire        p_sign = sa ^ sb;
    wire        p_nan  = a_nan | b_nan | (a_inf & b_zero) | (b_inf & a_zero);
    wire        p_inf  = (a_inf | b_inf) & ~p_nan;
    wire        p_zero = a_zero | b_zero;
    wire [31:0] prod = p_nan  ? 32'h7FC00000 :
                       p_inf  ? {p_sign, 8'hFF, 23'd0} :
                       p_zero ? {p_sign, 31'd0} :
                                {p_sign, pexp, pnorm[20:0], 2'b00};

    // --- binary32 addition, round to nearest even ---------------------------------------------
    wire [31:0] x = clr ? 32'd0 : acc;
    wire [31:0] y = prod;
    wire        xs = x[31];
    wire        ys = y[31];
    wire [7:0]  xe = x[30:23];
    wire [7:0]  ye = y[30:23];
    wire [22:0] xm = x[22:0];
    wire [22:0] ym = y[22:0];
    wire x_nan = (&xe) & (|xm);
    wire y_nan = (&ye) & (|ym);
    wire x_inf = (&xe) & ~(|xm);
    wire y_inf = (&ye) & ~(|ym);
    wire [23:0] xsig = {|xe, xm};
    wire [23:0] ysig = {|ye, ym};
    wire [7:0]  xee  = (|xe) ? xe : 8'd1;
    wire [7:0]  yee  = (|ye) ? ye : 8'd1;
    // order by magnitude: (big, small)
    wire        swap = {yee, ysig} > {xee, xsig};
    wire        bs   = swap ? ys : xs;
    wire        ss   = swap ? xs : ys;
    wire [7:0]  be   = swap ? yee : xee;
    wire [7:0]  se   = swap ? xee : yee;
    wire [23:0] bsig = swap ? ysig : xsig;
    wire [23:0] ssig = swap ? xsig : ysig;
    wire [7:0]  d    = be - se;
    wire [4:0]  dc   = (d > 8'd27) ? 5'd27 : d[4:0];
    // 27-bit frames: significand, guard, round, sticky
    wire [53:0] wide = {ssig, 3'b000, 27'd0} >> dc;
    wire        sticky = |wide[26:0];
    wire [26:0] bf = {bsig, 3'b000};
    wire [26:0] sf = {wide[53:28], wide[27] | sticky};
    wire        sub = bs ^ ss;
    wire [27:0] sum = sub ? {1'b0, bf} - {1'b0, sf} : {1'b0, bf} + {1'b0, sf};

    reg  [4:0]  lz;                             // leading zeros of sum[26:0]
    integer j;
    always @* begin
        lz = 5'd27;
        for (j = 0; j < 27; j = j + 1)
            if (sum[j]) lz = 5'd26 - j[4:0];
    end
    wire [7:0]  lzw   = {3'b000, lz};
    wire [7:0]  shl   = (lzw < be - 8'd1) ? lzw : be - 8'd1;   // stop at the subnormal exponent
    wire [26:0] nl    = sum[26:0] << shl;
    wire        carry = sum[27];
    wire [26:0] n     = carry ? {sum[27:2], sum[1] | sum[0]} : nl;
    wire [8:0]  e     = carry ? {1'b0, be} + 9'd1 : {1'b0, be} - {1'b0, shl};
    wire        rup   = n[2] & (n[1] | n[0] | n[3]);
    wire [8:0]  efield = n[26] ? e : 9'd0;      // hidden bit 0 after the shift: subnormal
    wire [31:0] rounded = {efield, n[25:3]} + {31'd0, rup};   // carries into the exponent (and to Inf)
    wire        ovf   = (e >= 9'd255) & n[26];
    wire        zero  = ~(|sum);

    wire        s_nan = x_nan | y_nan | (x_inf & y_inf & (xs ^ ys));
    wire        s_inf = (x_inf | y_inf) & ~s_nan;
    wire [31:0] result = s_nan ? 32'h7FC00000 :
                         s_inf ? {x_inf ? xs : ys, 8'hFF, 23'd0} :
                         zero  ? {xs & ys, 31'd0} :
                         (ovf | rounded[31:23] >= 9'd255) ? {bs, 8'hFF, 23'd0} :
                         {bs, rounded[30:0]};

    always @(posedge clk) begin
        acc <= en ? result : x;                 // not enabled: hold (or +0 after clr)
    end
endmodule

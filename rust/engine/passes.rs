//! Rewrites of a plan before it is scheduled.

use super::*;

/// Strength reduction: a wall clock over a GPU-count axis becomes GPU-hours × 1/(24·GPUs), with the
/// reciprocals computed (and the counts checked) once per axis value instead of once per point.
pub(crate) fn reduce_wall_clock(spec: &mut PlanSpec) -> Result<(), String> {
    let mut column_of = std::collections::HashMap::new();
    for (ai, ax) in spec.axes.iter().enumerate() {
        for (ci, c) in ax.columns.iter().enumerate() {
            column_of.insert(c.reg, (ai, ci));
        }
    }
    let mut recips: std::collections::HashMap<usize, usize> = std::collections::HashMap::new();
    for k in 0..spec.ops.len() {
        let (gh, g, w) = match &spec.ops[k] {
            OpSpec::Model { stage: Stage::Wall, i, o, .. } if i.len() == 2 && o.len() == 1 => {
                (i[WallIn::gpu_hours as usize], i[WallIn::gpus as usize], o[WallOut::wall_clock_days as usize])
            }
            _ => continue,
        };
        let Some(&(ai, ci)) = column_of.get(&g) else { continue };
        let recip = match recips.get(&g) {
            Some(&r) => r,
            None => {
                let values = &spec.axes[ai].columns[ci].values;
                if let Some(bad) = values.iter().find(|&&v| !(v >= 1.0 && v < 9.0e15 && v.fract() == 0.0)) {
                    return Err(format!("gpus: got {}, expected a whole number from 1 to 4.5e15", bad.shown()));
                }
                let r = spec.registers;
                spec.registers += 1;
                let column =
                    AxisColumn { reg: r, values: values.iter().map(|&v| 1.0 / (v * 24.0)).collect(), gen: None };
                spec.axes[ai].columns.push(column);
                recips.insert(g, r);
                r
            }
        };
        spec.ops[k] = OpSpec::Bin { op: BinOp::Mul, a: gh, b: recip, o: w, msg: None };
    }
    Ok(())
}


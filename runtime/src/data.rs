//! Data arguments of models: the [`Matrix`] type, checks when a model is built, and row subsets for
//! minibatches.

use crate::error::ModelError;

/// A dense row-major matrix of data (e.g. a design matrix, one row per observation).
#[derive(Clone, Debug)]
pub struct Matrix {
    rows: usize,
    cols: usize,
    data: Vec<f64>,
    /// The transpose's values, made once: `X β` multiplies by `Xᵀ` at every evaluation.
    transposed: std::sync::OnceLock<Vec<f64>>,
}

impl PartialEq for Matrix {
    fn eq(&self, other: &Self) -> bool {
        (self.rows, self.cols) == (other.rows, other.cols) && self.data == other.data
    }
}

impl Matrix {
    /// A `rows × cols` matrix from row-major values.
    pub fn new(rows: usize, cols: usize, data: Vec<f64>) -> Result<Self, ModelError> {
        if data.len() != rows * cols {
            return Err(ModelError::Dimension { what: format!("values of a {rows}x{cols} matrix"), expected: rows * cols, got: data.len() });
        }
        Ok(Self { rows, cols, data, transposed: Default::default() })
    }

    /// A matrix from its rows, which must all have the same length.
    pub fn from_rows<R: AsRef<[f64]>>(rows: &[R]) -> Result<Self, ModelError> {
        let cols = rows.first().map_or(0, |r| r.as_ref().len());
        let mut data = Vec::with_capacity(rows.len() * cols);
        for (i, r) in rows.iter().enumerate() {
            let r = r.as_ref();
            if r.len() != cols {
                return Err(ModelError::Dimension { what: format!("values in row {i} (row 0 has {cols})"), expected: cols, got: r.len() });
            }
            data.extend_from_slice(r);
        }
        Ok(Self { rows: rows.len(), cols, data, transposed: Default::default() })
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }
    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }
    /// Element `(i, j)`.
    pub fn get(&self, i: usize, j: usize) -> f64 {
        self.data[i * self.cols + j]
    }
    /// Row `i`.
    pub fn row(&self, i: usize) -> &[f64] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }
    /// Row-major values.
    pub fn data(&self) -> &[f64] {
        &self.data
    }
    /// Row-major values, by value.
    pub fn into_data(self) -> Vec<f64> {
        self.data
    }
    /// The transpose.
    pub fn transpose(&self) -> Matrix {
        Matrix { rows: self.cols, cols: self.rows, data: self.transposed_data().to_vec(), transposed: Default::default() }
    }

    /// Row-major values of the transpose, computed on first use.
    pub(crate) fn transposed_data(&self) -> &[f64] {
        self.transposed.get_or_init(|| {
            let mut t = vec![0.0; self.data.len()];
            for i in 0..self.rows {
                for j in 0..self.cols {
                    t[j * self.rows + i] = self.data[i * self.cols + j];
                }
            }
            t
        })
    }

    /// `M v` for a differentiable vector `v` of length `cols`: one value per row (e.g. the linear
    /// predictor `X β` of a regression).
    pub fn matvec<'c, B: crate::backend::Backend>(&self, v: crate::value::Real<'c, B>) -> crate::value::Real<'c, B> {
        v.ctx.op_matmul(v, self, true)
    }
}

/// Checks a data argument when a model is built: every float must be finite.
pub trait Check {
    /// The index (e.g. `[3]` or `[2][0]`) and value of the first non-finite float.
    fn first_bad(&self) -> Option<(String, f64)>;

    /// `Err` names the argument and the first bad element.
    fn check(&self, name: &str) -> Result<(), ModelError> {
        match self.first_bad() {
            None => Ok(()),
            Some((idx, v)) => Err(ModelError::Data { name: name.to_string(), detail: format!("{name}{idx} is {v}") }),
        }
    }
}

impl Check for f64 {
    fn first_bad(&self) -> Option<(String, f64)> {
        (!self.is_finite()).then(|| (String::new(), *self))
    }
}
impl Check for f32 {
    fn first_bad(&self) -> Option<(String, f64)> {
        (*self as f64).first_bad()
    }
}
macro_rules! check_nothing {
    ($($t:ty),*) => {$(
        impl Check for $t {
            fn first_bad(&self) -> Option<(String, f64)> { None }
        }
    )*};
}
check_nothing!(i32, i64, u32, u64, usize, bool);

impl<T: Check> Check for Vec<T> {
    fn first_bad(&self) -> Option<(String, f64)> {
        self.iter().enumerate().find_map(|(i, v)| v.first_bad().map(|(idx, x)| (format!("[{i}]{idx}"), x)))
    }
}
impl Check for Matrix {
    fn first_bad(&self) -> Option<(String, f64)> {
        let k = self.data.iter().position(|v| !v.is_finite())?;
        Some((format!("[{}][{}]", k / self.cols, k % self.cols), self.data[k]))
    }
}

/// Data indexed by observation: subset by rows for minibatch likelihoods.
pub trait Subset: Sized {
    /// Number of observations (rows).
    fn n_rows(&self) -> usize;
    /// The rows `idx`, in that order.
    fn subset(&self, idx: &[usize]) -> Self;
}

impl<T: Clone> Subset for Vec<T> {
    fn n_rows(&self) -> usize {
        self.len()
    }
    fn subset(&self, idx: &[usize]) -> Self {
        idx.iter().map(|&i| self[i].clone()).collect()
    }
}
impl Subset for Matrix {
    fn n_rows(&self) -> usize {
        self.rows
    }
    fn subset(&self, idx: &[usize]) -> Self {
        let mut data = Vec::with_capacity(idx.len() * self.cols);
        for &i in idx {
            data.extend_from_slice(self.row(i));
        }
        Matrix { rows: idx.len(), cols: self.cols, data, transposed: Default::default() }
    }
}

// The bank's (fake) core banking data, keyed by bank customer id — the `sub` of the access token.
export interface BankAccounts {
  accounts: { name: string; balance: number }[];
  fraudAlerts: string[];
}

const DATA: Record<string, BankAccounts> = {
  "cust-1001": { accounts: [{ name: "Checking", balance: 2450.17 }, { name: "Savings", balance: 12000 }], fraudAlerts: [] },
  "cust-1002": { accounts: [{ name: "Checking", balance: 318.4 }], fraudAlerts: ["Card payment of €899.00 at an online electronics shop on 20 Nov — not confirmed yet."] },
  "cust-1003": { accounts: [{ name: "Checking", balance: 7.5 }, { name: "Savings", balance: 640.25 }], fraudAlerts: [] },
};

export function findBankAccounts(customerId: string): BankAccounts | undefined {
  return DATA[customerId];
}

export const formatEuro = (n: number) => `€${n.toLocaleString("en-IE", { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;

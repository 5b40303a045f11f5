// The bank's demo customers. Passwords are demo values shown on the login page.
export interface Customer {
  customerId: string;
  username: string;
  password: string;
  name: string;
}

export const CUSTOMERS: readonly Customer[] = Object.freeze([
  { customerId: "cust-1001", username: "ada", password: "ada", name: "Ada Lovelace" },
  { customerId: "cust-1002", username: "grace", password: "grace", name: "Grace Hopper" },
  { customerId: "cust-1003", username: "alan", password: "alan", name: "Alan Turing" },
]);

export function findCustomerByLogin(username: string, password: string): Customer | undefined {
  return CUSTOMERS.find((c) => c.username === username.trim().toLowerCase() && c.password === password);
}

export function findCustomer(customerId: string): Customer | undefined {
  return CUSTOMERS.find((c) => c.customerId === customerId);
}
